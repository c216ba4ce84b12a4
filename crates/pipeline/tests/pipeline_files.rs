//! Pipeline files: mistakes stop before any work with the file, line, column and a fix.

use std::path::Path;

use irl_pipeline::{PipelineError, parse, to_yaml};

fn error(text: &str, overrides: &[&str]) -> String {
    let overrides: Vec<String> = overrides.iter().map(|text| text.to_string()).collect();
    match parse(text, Path::new("pipelines/study.yaml"), &overrides) {
        Ok(_) => panic!("expected an error for {text:?} with {overrides:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn unknown_key_names_place_and_nearest() {
    let message = error("name: study\niterate:\n  iteratons: 30\n", &[]);
    assert!(
        message.starts_with("pipelines/study.yaml:3:3:"),
        "{message}"
    );
    assert!(
        message.contains("unknown key `iterate.iteratons`"),
        "{message}"
    );
    assert!(
        message.contains("did you mean `iterate.max_iterations`?"),
        "{message}"
    );
    assert!(message.contains("convergence"), "{message}");
}

#[test]
fn unknown_top_level_key() {
    let message = error("name: study\nseeed: 4\n", &[]);
    assert!(
        message.starts_with("pipelines/study.yaml:2:1:"),
        "{message}"
    );
    assert!(message.contains("did you mean `seed`?"), "{message}");
}

#[test]
fn wrong_type_names_key_and_value() {
    let message = error("name: study\ntraining:\n  epochs: two\n", &[]);
    assert!(
        message.starts_with("pipelines/study.yaml:3:11:"),
        "{message}"
    );
    assert!(message.contains("`training.epochs`"), "{message}");
    assert!(message.contains("\"two\""), "{message}");
}

#[test]
fn yes_is_not_a_boolean() {
    let message = error(
        "name: study\niterate:\n  convergence:\n    stop: yes\n",
        &[],
    );
    assert!(
        message.starts_with("pipelines/study.yaml:4:11:"),
        "{message}"
    );
    assert!(message.contains("`iterate.convergence.stop`"), "{message}");
    assert!(message.contains("write true or false"), "{message}");
}

#[test]
fn unknown_enum_value_lists_choices() {
    let message = error("name: study\nmodel:\n  kind: vae2\n", &[]);
    assert!(message.contains("`model.kind`"), "{message}");
    assert!(message.contains("conv_ae"), "{message}");
}

#[test]
fn missing_name_is_reported() {
    let message = error("seed: 3\n", &[]);
    assert!(message.contains("missing field `name`"), "{message}");
}

#[test]
fn override_unknown_key_names_override() {
    let message = error("name: study\n", &["iterate.max_iteratons=3"]);
    assert!(
        message.starts_with("--set iterate.max_iteratons=3:"),
        "{message}"
    );
    assert!(
        message.contains("did you mean `iterate.max_iterations`?"),
        "{message}"
    );
}

#[test]
fn override_wrong_type_is_rejected() {
    let message = error("name: study\n", &["training.epochs=many"]);
    assert!(
        message.starts_with("--set training.epochs=many:"),
        "{message}"
    );
    assert!(message.contains("`training.epochs`"), "{message}");
}

#[test]
fn override_without_equals_is_rejected() {
    let overrides = vec!["training.epochs".to_string()];
    let result = parse("name: study\n", Path::new("p.yaml"), &overrides);
    assert!(matches!(result, Err(PipelineError::OverrideSyntax { .. })));
}

#[test]
fn overrides_set_values() {
    let overrides: Vec<String> = [
        "data.train_limit=2000",
        "iterate.max_iterations=3",
        "training.learning_rate=0.002",
    ]
    .iter()
    .map(|text| text.to_string())
    .collect();
    let pipeline = parse("name: study\n", Path::new("p.yaml"), &overrides).unwrap();
    assert_eq!(pipeline.data.train_limit, Some(2000));
    assert_eq!(pipeline.iterate.max_iterations, 3);
    assert_eq!(pipeline.training.learning_rate, 0.002);
}

#[test]
fn resolved_pipeline_keeps_strings_quoted() {
    let pipeline = parse("name: 'no'\n", Path::new("p.yaml"), &[]).unwrap();
    assert_eq!(pipeline.name, "no");
    let yaml = to_yaml(&pipeline);
    assert!(yaml.contains("name: 'no'"), "{yaml}");
    for word in ["yes", "On", "off", "y", "N"] {
        let pipeline = parse(&format!("name: '{word}'\n"), Path::new("p.yaml"), &[]).unwrap();
        let yaml = to_yaml(&pipeline);
        assert!(yaml.contains(&format!("name: '{word}'")), "{yaml}");
    }
    let reread = parse(&yaml, Path::new("resolved.yaml"), &[]).unwrap();
    assert_eq!(reread, pipeline);
}

#[test]
fn resolved_pipeline_fills_defaults() {
    let pipeline = parse("name: study\n", Path::new("p.yaml"), &[]).unwrap();
    let yaml = to_yaml(&pipeline);
    for expected in [
        "seed: 42",
        "width: 0.1",
        "latent_dim: 16",
        "epsilon: 1e-8",
        "max_iterations: 30",
    ] {
        assert!(yaml.contains(expected), "{expected} missing from\n{yaml}");
    }
}

#[test]
fn out_of_range_settings_are_rejected() {
    let cases = [
        ("training.epochs=0", "`training.epochs`: must be at least 1"),
        (
            "training.learning_rate=-1",
            "`training.learning_rate`: must be a positive number",
        ),
        (
            "report.images_per_grid=100",
            "`report.images_per_grid`: must be between 1 and 64",
        ),
        ("model.width=0", "`model.width`: must be a positive number"),
        ("training.beta2=1.5", "`training.beta2`: must be in [0, 1)"),
        ("name=../escape", "`name`"),
        (
            "data.resize=[32, 32]",
            "`data.resize`: applies to data.source parquet and image_folder only",
        ),
        (
            "data.classes=3",
            "`data.classes`: is 3, but the key applies to data.source idx only",
        ),
        (
            "reconstruction.pixel_noise_std=-0.1",
            "`reconstruction.pixel_noise_std`: must be a number of at least 0",
        ),
    ];
    for (text, expected) in cases {
        let message = error("name: study\n", &[text]);
        assert!(message.contains(expected), "{text}: {message}");
        assert!(
            message.starts_with(&format!("--set {text}: ")),
            "{text}: {message}"
        );
    }

    // A value from the file is reported as the file's.
    let message = error("name: study\ntraining:\n  epochs: 0\n", &[]);
    assert!(
        message.starts_with("pipelines/study.yaml: invalid value for `training.epochs`"),
        "{message}"
    );
}

#[test]
fn negative_count_names_whole_number() {
    let message = error("name: study\nseed: -3\n", &[]);
    assert!(
        message.contains("expected a whole number >= 0"),
        "{message}"
    );
}

#[test]
fn settings_of_the_other_model_kind_are_rejected() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["reconstruction.mode=posterior_sample"],
            "`reconstruction.mode`: posterior_sample does not apply to model.kind conv_ae; use \
             deterministic",
        ),
        (
            &["model.kind=vae", "reconstruction.mode=deterministic"],
            "`reconstruction.mode`: deterministic does not apply to model.kind vae; use \
             posterior_sample or posterior_mean",
        ),
        (
            &["model.reconstruction_term=bce"],
            "`model.reconstruction_term`: is bce, but the conv_ae model",
        ),
        (
            &["model.reconstruction_term=l1"],
            "`model.reconstruction_term`",
        ),
    ];
    for (overrides, expected) in cases {
        let message = error("name: study\n", overrides);
        assert!(message.contains(expected), "{overrides:?}: {message}");
    }
}

#[test]
fn vae_defaults_depend_on_the_kind() {
    let pipeline = parse(
        "name: study\nmodel:\n  kind: vae\n",
        Path::new("p.yaml"),
        &[],
    )
    .unwrap();
    let yaml = to_yaml(&pipeline);
    for expected in [
        "kind: vae",
        "reconstruction_term: mse",
        "mode: posterior_sample",
    ] {
        assert!(yaml.contains(expected), "{expected} missing from\n{yaml}");
    }
    // The saved pipeline reads back as itself, and switching the kind back by override works
    // because the kind's defaults are filled in only after the overrides.
    assert_eq!(
        parse(&yaml, Path::new("saved.yaml"), &[]).unwrap(),
        pipeline
    );
    let back = parse(
        "name: study\nmodel:\n  kind: vae\n",
        Path::new("p.yaml"),
        &["model.kind=conv_ae".to_string()],
    )
    .unwrap();
    assert!(to_yaml(&back).contains("mode: deterministic"));
    assert!(!to_yaml(&back).contains("reconstruction_term"));
}

#[test]
fn settings_of_another_loop_variant_are_rejected() {
    let cases: [(&[&str], &str); 8] = [
        (
            &["iterate.budget=original_size"],
            "`iterate.budget`: applies to iterate.regime accumulate only, but the regime is \
             replace",
        ),
        (
            &["iterate.regime=accumulate", "iterate.original_fraction=0.2"],
            "`iterate.original_fraction`: applies to iterate.regime mix only",
        ),
        (
            &["iterate.regime=mix", "iterate.original_fraction=1.5"],
            "`iterate.original_fraction`: must be between 0 and 1 (exclusive), found 1.5",
        ),
        (
            &["iterate.warm_epochs=2"],
            "`iterate.warm_epochs`: applies to iterate.start warm only, but the start is fresh",
        ),
        (
            &["iterate.start=frozen", "iterate.regime=mix"],
            "`iterate.start`: is frozen, which trains only in round 1",
        ),
        (
            &["model.kind=pca", "iterate.start=warm"],
            "`iterate.start`: is warm, but PCA is fitted in closed form",
        ),
        (&["seeds=[3, 4, 3]"], "`seeds`: lists seed 3 twice"),
        (
            &["iterate.regime=shuffle"],
            "`iterate.regime`: unknown variant `shuffle`, expected one of `replace`, \
             `accumulate`, `mix`, `original`",
        ),
    ];
    for (overrides, expected) in cases {
        let message = error("name: study\n", overrides);
        assert!(message.contains(expected), "{overrides:?}: {message}");
    }
}

#[test]
fn pca_takes_its_components_from_the_latent_size() {
    let pipeline = parse(
        "name: study\nmodel:\n  kind: pca\n  latent_dim: 12\n",
        Path::new("p.yaml"),
        &[],
    )
    .unwrap();
    assert_eq!(
        pipeline.model_spec(),
        irl_models::ModelSpec::Pca { components: 12 }
    );
    assert!(to_yaml(&pipeline).contains("mode: deterministic"));
}

#[test]
fn shipped_pipelines_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines");
    let mut files = Vec::new();
    for dir in [root.clone(), root.join("variants")] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|ext| ext == "yaml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 10, "found {files:?}");
    for path in files {
        irl_pipeline::load(&path, &[])
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }
}
