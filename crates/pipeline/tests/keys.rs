//! Cache keys: every key input changes the key, and nothing else does.

use std::path::Path;

use irl_pipeline::stages::{
    EvaluateInputs, ReportInputs, compose_key, evaluate_key, ingest_key, reconstruct_key,
    reference_key, report_key, train_key,
};
use irl_pipeline::{Pipeline, parse};
use irl_store::ObjectDigest;

const BASE: &str = "name: keys\nseed: 1\n";

fn pipeline(text: &str) -> Pipeline {
    parse(text, Path::new("test.yaml"), &[]).expect("valid pipeline")
}

fn with(overrides: &[&str]) -> Pipeline {
    let overrides: Vec<String> = overrides.iter().map(|text| text.to_string()).collect();
    parse(BASE, Path::new("test.yaml"), &overrides).expect("valid override")
}

fn digest(text: &str) -> ObjectDigest {
    ObjectDigest::of(text.as_bytes())
}

fn sources() -> Vec<(String, [u8; 32])> {
    vec![
        ("train-images-idx3-ubyte.gz".into(), [1; 32]),
        ("train-labels-idx1-ubyte.gz".into(), [2; 32]),
    ]
}

fn train(pipeline: &Pipeline) -> irl_store::StageKey {
    train_key(pipeline, 3, &digest("dataset"), None, "flex/cpu").key()
}

#[test]
fn train_key_changes_with_each_input() {
    let base = with(&[]);
    let reference = train(&base);
    let changed = [
        "seed=2",
        "model.width=0.25",
        "model.latent_dim=8",
        "training.epochs=2",
        "training.batch_size=32",
        "training.learning_rate=0.0005",
        "training.beta1=0.8",
        "training.beta2=0.99",
        "training.epsilon=1e-7",
    ];
    for text in changed {
        assert_ne!(
            train(&with(&[text])),
            reference,
            "{text} did not change the key"
        );
    }
    assert_ne!(
        train_key(&base, 4, &digest("dataset"), None, "flex/cpu").key(),
        reference,
        "the round"
    );
    assert_ne!(
        train_key(&base, 3, &digest("other dataset"), None, "flex/cpu").key(),
        reference,
        "the input dataset"
    );
    assert_ne!(
        train_key(&base, 3, &digest("dataset"), None, "tch/cpu").key(),
        reference,
        "the backend"
    );
    let mut bumped = train_key(&base, 3, &digest("dataset"), None, "flex/cpu");
    bumped.version += 1;
    assert_ne!(bumped.key(), reference, "the stage version");
}

#[test]
fn train_key_ignores_other_settings() {
    let reference = train(&with(&[]));
    let unrelated = [
        "name=other",
        "data.dir=/somewhere/else",
        "data.train_limit=100",
        "reconstruction.batch_size=7",
        "iterate.max_iterations=5",
        "iterate.convergence.tolerance=0.5",
        "report.images_per_grid=9",
        "report.snapshot_rounds=[2]",
        // The regime decides the dataset, whose digest is in the key already.
        "iterate.regime=mix",
        "iterate.regime=original",
        "seeds=[1, 2]",
    ];
    for text in unrelated {
        assert_eq!(train(&with(&[text])), reference, "{text} changed the key");
    }
}

#[test]
fn warm_train_key_has_its_start_and_epochs() {
    let warm = with(&["iterate.start=warm", "iterate.warm_epochs=2"]);
    let key = |pipeline: &Pipeline, start: Option<&ObjectDigest>| {
        train_key(pipeline, 3, &digest("dataset"), start, "flex/cpu").key()
    };
    let weights = digest("weights");
    let reference = key(&warm, Some(&weights));
    assert_ne!(reference, key(&warm, None), "a fresh start");
    assert_ne!(reference, key(&warm, Some(&digest("other"))), "the weights");
    let longer = with(&["iterate.start=warm", "iterate.warm_epochs=3"]);
    assert_ne!(reference, key(&longer, Some(&weights)), "the warm epochs");
    // A fresh round of a warm pipeline is the fresh pipeline's round.
    assert_eq!(key(&warm, None), train(&with(&[])));
}

#[test]
fn pca_train_key_ignores_seed() {
    let pca = |overrides: &[&str]| {
        let mut all = vec!["model.kind=pca"];
        all.extend_from_slice(overrides);
        train(&with(&all))
    };
    let reference = pca(&[]);
    assert_ne!(reference, train(&with(&[])), "the kind");
    for text in ["seed=9", "training.epochs=4", "training.learning_rate=0.1"] {
        assert_eq!(pca(&[text]), reference, "{text} changed the key");
    }
    assert_ne!(pca(&["model.latent_dim=4"]), reference, "the components");
}

#[test]
fn compose_key_changes_with_each_input() {
    let key = |pipeline: &Pipeline, round: u32, sources: &[ObjectDigest]| {
        compose_key(pipeline, round, &digest("original"), sources).key()
    };
    let rounds = [digest("round 1"), digest("round 2")];
    let mix = with(&["iterate.regime=mix"]);
    let reference = key(&mix, 3, &rounds[1..]);
    assert_eq!(
        reference,
        key(
            &with(&["iterate.regime=mix", "iterate.original_fraction=0.1"]),
            3,
            &rounds[1..]
        ),
        "0.1 is the default fraction"
    );
    for (changed, what) in [
        (
            key(
                &with(&["iterate.regime=mix", "iterate.original_fraction=0.2"]),
                3,
                &rounds[1..],
            ),
            "the fraction",
        ),
        (
            key(&with(&["iterate.regime=mix", "seed=2"]), 3, &rounds[1..]),
            "the seed",
        ),
        (key(&mix, 4, &rounds[1..]), "the round"),
        (key(&mix, 3, &rounds[..1]), "the reconstruction"),
        (
            key(&with(&["iterate.regime=accumulate"]), 3, &rounds),
            "the regime",
        ),
    ] {
        assert_ne!(changed, reference, "{what}");
    }

    // The whole pool draws nothing at random; a budget does.
    let pool = with(&["iterate.regime=accumulate"]);
    assert_eq!(
        key(&pool, 3, &rounds),
        key(&with(&["iterate.regime=accumulate", "seed=5"]), 3, &rounds)
    );
    let budget = ["iterate.regime=accumulate", "iterate.budget=original_size"];
    assert_ne!(
        key(&with(&budget), 3, &rounds),
        key(&pool, 3, &rounds),
        "the budget"
    );
    let mut reseeded = budget.to_vec();
    reseeded.push("seed=5");
    assert_ne!(
        key(&with(&budget), 3, &rounds),
        key(&with(&reseeded), 3, &rounds),
        "the seed"
    );
}

#[test]
fn ingest_key_changes_with_each_input() {
    let reference = ingest_key(&with(&[]), &sources()).key();
    for text in ["data.train_limit=10", "data.test_limit=10"] {
        assert_ne!(
            ingest_key(&with(&[text]), &sources()).key(),
            reference,
            "{text}"
        );
    }
    let mut other = sources();
    other[1].1 = [3; 32];
    assert_ne!(
        ingest_key(&with(&[]), &other).key(),
        reference,
        "a file digest"
    );
    for text in ["seed=9", "data.dir=/elsewhere", "model.width=1.0"] {
        assert_eq!(
            ingest_key(&with(&[text]), &sources()).key(),
            reference,
            "{text} changed the key"
        );
    }
}

#[test]
fn reconstruct_key_changes_with_each_input() {
    let key = |pipeline: &Pipeline, model: &str, dataset: &str, backend: &str| {
        reconstruct_key(pipeline, 1, &digest(model), &digest(dataset), backend).key()
    };
    let base = with(&[]);
    let reference = key(&base, "model", "dataset", "flex/cpu");
    assert_ne!(key(&base, "model 2", "dataset", "flex/cpu"), reference);
    assert_ne!(key(&base, "model", "dataset 2", "flex/cpu"), reference);
    assert_ne!(key(&base, "model", "dataset", "tch/cpu"), reference);
    assert_ne!(
        key(
            &with(&["model.latent_dim=4"]),
            "model",
            "dataset",
            "flex/cpu"
        ),
        reference
    );
    assert_eq!(
        key(
            &with(&["reconstruction.batch_size=3", "seed=5"]),
            "model",
            "dataset",
            "flex/cpu"
        ),
        reference
    );
}

#[test]
fn random_reconstruction_key_has_seed_round_and_noise() {
    let key = |overrides: &[&str], round: u32| {
        reconstruct_key(
            &with(overrides),
            round,
            &digest("model"),
            &digest("dataset"),
            "flex/cpu",
        )
        .key()
    };
    // The autoencoder's reconstruction is a function of the model and the data alone.
    assert_eq!(key(&[], 1), key(&[], 2));

    let vae = ["model.kind=vae"];
    let reference = key(&vae, 1);
    assert_ne!(reference, key(&[], 1));
    assert_ne!(key(&vae, 2), reference, "round");
    assert_ne!(key(&["model.kind=vae", "seed=5"], 1), reference, "seed");
    for setting in [
        "reconstruction.mode=posterior_mean",
        "reconstruction.pixel_noise_std=0.1",
        "model.reconstruction_term=bce",
    ] {
        assert_ne!(key(&["model.kind=vae", setting], 1), reference, "{setting}");
    }
    assert_eq!(
        key(
            &["model.kind=vae", "reconstruction.mode=posterior_sample"],
            1
        ),
        reference,
        "writing out the default mode"
    );
    // Pixel noise makes even the autoencoder's reconstruction random.
    let noisy = ["reconstruction.pixel_noise_std=0.1"];
    assert_ne!(key(&noisy, 1), key(&noisy, 2));
}

#[test]
fn evaluate_key_changes_with_each_input() {
    let digests: Vec<ObjectDigest> = (0..11).map(|i| digest(&format!("object {i}"))).collect();
    let base = with(&[]);
    fn objects(d: &[ObjectDigest]) -> EvaluateInputs<'_> {
        EvaluateInputs {
            input: &d[0],
            output: &d[1],
            original: &d[2],
            latents: None,
            model: &d[3],
            classifier: &d[4],
            original_spread: &d[5],
            previous_predictions: &d[6],
            previous_probe: Some(&d[7]),
            first_probe: Some(&d[8]),
        }
    }
    let key = |pipeline: &Pipeline, round: u32, d: &[ObjectDigest], backend: &str| {
        evaluate_key(pipeline, round, objects(d), backend).key()
    };
    let reference = key(&base, 2, &digests, "flex-cpu");
    assert_eq!(key(&base, 2, &digests, "flex-cpu"), reference);
    assert_ne!(key(&base, 3, &digests, "flex-cpu"), reference);
    assert_ne!(key(&base, 2, &digests, "tch-cpu"), reference);
    // Each object read by the stage.
    for changed in 0..9 {
        let mut other = digests.clone();
        other[changed] = digests[10];
        assert_ne!(
            key(&base, 2, &other, "flex-cpu"),
            reference,
            "object {changed}"
        );
    }
    let mut vae_objects = objects(&digests);
    vae_objects.latents = Some(&digests[9]);
    assert_ne!(
        evaluate_key(&base, 2, vae_objects, "flex-cpu").key(),
        reference
    );
    // The settings of the measurements and the seed that draws the probe set.
    for setting in [
        "evaluation.probe_images=500",
        "evaluation.knn_k=7",
        "evaluation.linear_probe_l2=0.1",
        "seed=7",
    ] {
        assert_ne!(
            key(&with(&[setting]), 2, &digests, "flex-cpu"),
            reference,
            "{setting}"
        );
    }
    // The classifier's training settings reach the stage only through the classifier object.
    assert_eq!(
        key(
            &with(&["evaluation.classifier.epochs=5"]),
            2,
            &digests,
            "flex-cpu"
        ),
        reference
    );
}

#[test]
fn reference_key_changes_with_each_input() {
    let (a, b) = (digest("a"), digest("b"));
    let reference = reference_key(&with(&[]), &a, "flex-cpu").key();
    assert_ne!(reference_key(&with(&[]), &b, "flex-cpu").key(), reference);
    assert_ne!(reference_key(&with(&[]), &a, "tch-cpu").key(), reference);
    for setting in [
        "evaluation.classifier.epochs=5",
        "evaluation.classifier.batch_size=32",
        "evaluation.classifier.learning_rate=0.01",
        "seed=7",
    ] {
        assert_ne!(
            reference_key(&with(&[setting]), &a, "flex-cpu").key(),
            reference,
            "{setting}"
        );
    }
    // The loop's model and training do not change the classifier.
    for setting in ["model.width=0.5", "training.epochs=4"] {
        assert_eq!(
            reference_key(&with(&[setting]), &a, "flex-cpu").key(),
            reference,
            "{setting}"
        );
    }
}

#[test]
fn report_key_changes_with_each_input() {
    let base = with(&[]);
    let previews = vec![(0, digest("p0")), (1, digest("p1"))];
    let recall = [("class_recall", digest("r"))];
    let key = |pipeline: &Pipeline,
               rounds,
               converged,
               metrics: &str,
               previews: &[(u32, ObjectDigest)]| {
        report_key(
            pipeline,
            rounds,
            converged,
            ReportInputs {
                metrics: &digest(metrics),
                pipeline_yaml: &digest("yaml"),
                previews,
                prior_samples: &[],
                tables: &recall,
            },
        )
        .key()
    };
    let reference = key(&base, 1, None, "m", &previews);
    assert_ne!(key(&base, 2, None, "m", &previews), reference);
    assert_ne!(key(&base, 1, Some(1), "m", &previews), reference);
    assert_ne!(key(&base, 1, None, "m2", &previews), reference);
    assert_ne!(key(&base, 1, None, "m", &previews[..1]), reference);
    for text in [
        "report.images_per_grid=16",
        "report.confusion_round=3",
        "name=other",
    ] {
        assert_ne!(
            key(&with(&[text]), 1, None, "m", &previews),
            reference,
            "{text}"
        );
    }
    let with_objects = |prior_samples: &[(u32, ObjectDigest)], tables: &[(&str, ObjectDigest)]| {
        report_key(
            &base,
            1,
            None,
            ReportInputs {
                metrics: &digest("m"),
                pipeline_yaml: &digest("yaml"),
                previews: &previews,
                prior_samples,
                tables,
            },
        )
        .key()
    };
    assert_eq!(with_objects(&[], &recall), reference);
    assert_ne!(with_objects(&[(1, digest("s1"))], &recall), reference);
    assert_ne!(
        with_objects(&[], &[("class_recall", digest("r2"))]),
        reference
    );
    assert_ne!(with_objects(&[], &[]), reference);
}

#[test]
fn key_ignores_yaml_layout() {
    let first = pipeline(
        "name: layout\nseed: 3\nmodel:\n  width: 0.25\n  latent_dim: 8\ntraining:\n  epochs: 2\n",
    );
    let second = pipeline(
        "# the same pipeline, written differently\ntraining: {epochs: 2}\nmodel:\n  latent_dim: 8   # small\n  width: 0.250\nseed: 3\nname: layout\n",
    );
    assert_eq!(train(&first), train(&second));
    let defaults_written = pipeline(
        "name: layout\nseed: 3\nmodel: {kind: conv_ae, width: 0.25, latent_dim: 8}\ntraining: {epochs: 2, batch_size: 64, optimizer: adam}\n",
    );
    assert_eq!(train(&first), train(&defaults_written));
}

#[test]
fn random_subset_key_has_selection_and_seed() {
    let key = |overrides: &[&str]| ingest_key(&with(overrides), &sources()).key();
    let first = key(&["data.train_limit=100"]);
    // The selection matters only with a limit, and the seed only for a random choice.
    assert_eq!(key(&["data.selection=random"]), key(&[]));
    assert_eq!(key(&["data.train_limit=100", "seed=5"]), first);
    let random = key(&["data.train_limit=100", "data.selection=random"]);
    assert_ne!(random, first);
    assert_ne!(
        key(&["data.train_limit=100", "data.selection=random", "seed=5"]),
        random
    );
    assert_ne!(
        key(&["data.train_limit=100", "data.selection=per_class"]),
        random
    );
    let held_out = key(&["data.validation_from_train=10000"]);
    assert_ne!(held_out, key(&[]));
    assert_ne!(
        key(&["data.validation_from_train=10000", "seed=5"]),
        held_out
    );
}
