//! Adam, with its state keyed by parameter path so that a checkpoint can be loaded into a freshly
//! built model.
//!
//! burn's own `ModuleOptimizer` keys its state by `ParamId`, which is drawn at random when a
//! model is built, so its records do not fit a model rebuilt after the process died. The update
//! is PyTorch's (`torch.optim.Adam`, no weight decay, no amsgrad):
//!
//! ```text
//! m = beta1 * m + (1 - beta1) * g
//! v = beta2 * v + (1 - beta2) * g^2
//! p = p - lr * (m / (1 - beta1^t)) / (sqrt(v) / sqrt(1 - beta2^t) + epsilon)
//! ```

use std::collections::{BTreeMap, HashMap};

use burn::module::{Module, ModuleMapper, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use irl_store::safetensors_io::{self, TensorBytes};
use serde::{Deserialize, Serialize};

/// Hyperparameters of [`Adam`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AdamConfig {
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    /// Added to the denominator; PyTorch's default is 1e-8.
    pub epsilon: f64,
}

/// Moment estimates of one parameter, flattened.
#[derive(Debug, Clone)]
struct Moments {
    shape: Vec<usize>,
    exp_avg: Tensor<1>,
    exp_avg_sq: Tensor<1>,
}

/// Adam optimizer state for one model.
#[derive(Debug, Clone)]
pub struct Adam {
    config: AdamConfig,
    step: u64,
    moments: HashMap<String, Moments>,
}

/// Optimizer state that cannot be decoded.
#[derive(Debug, thiserror::Error)]
#[error("invalid optimizer state in {origin}: {problem}")]
pub struct AdamStateError {
    origin: String,
    problem: String,
}

impl Adam {
    /// Starts with zero moments at step 0.
    pub fn new(config: AdamConfig) -> Self {
        Self {
            config,
            step: 0,
            moments: HashMap::new(),
        }
    }

    /// Number of updates applied so far.
    pub fn step_count(&self) -> u64 {
        self.step
    }

    /// Applies one update to every parameter of `model` that has a gradient.
    pub fn step<M: Module>(&mut self, model: M, grads: GradientsParams) -> M {
        self.step += 1;
        let mut mapper = AdamMapper {
            adam: self,
            grads,
            path: Vec::new(),
        };
        model.map(&mut mapper)
    }

    /// Encodes the state as safetensors: `<path>.exp_avg` and `<path>.exp_avg_sq` per parameter,
    /// as PyTorch names them, and the step count in the metadata.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, safetensors::SafeTensorError> {
        let mut paths: Vec<&String> = self.moments.keys().collect();
        paths.sort();
        let mut tensors = Vec::new();
        for path in paths {
            let moments = &self.moments[path];
            for (name, tensor) in [
                ("exp_avg", &moments.exp_avg),
                ("exp_avg_sq", &moments.exp_avg_sq),
            ] {
                let data = tensor.to_data();
                let values = data.as_slice::<f32>().expect("moments are f32");
                tensors.push(TensorBytes::f32(
                    &format!("{path}.{name}"),
                    moments.shape.clone(),
                    values,
                ));
            }
        }
        let metadata = BTreeMap::from([
            ("format".to_string(), "irl-adam-state".to_string()),
            ("step".to_string(), self.step.to_string()),
        ]);
        safetensors_io::serialize(&tensors, &metadata)
    }

    /// Restores a state written by [`Adam::to_safetensors`] onto `device`.
    pub fn from_safetensors(
        config: AdamConfig,
        bytes: &[u8],
        device: &Device,
        origin: &str,
    ) -> Result<Self, AdamStateError> {
        let invalid = |problem: String| AdamStateError {
            origin: origin.to_string(),
            problem,
        };
        let (_, metadata) = safetensors::SafeTensors::read_metadata(bytes)
            .map_err(|error| invalid(error.to_string()))?;
        let step = metadata
            .metadata()
            .as_ref()
            .and_then(|entries| entries.get("step"))
            .and_then(|step| step.parse::<u64>().ok())
            .ok_or_else(|| invalid("the step count is missing from the metadata".into()))?;
        let tensors = safetensors::SafeTensors::deserialize(bytes)
            .map_err(|error| invalid(error.to_string()))?;

        let mut moments = HashMap::new();
        for (name, view) in tensors.tensors() {
            let Some(path) = name.strip_suffix(".exp_avg") else {
                continue;
            };
            let squared = tensors
                .tensor(&format!("{path}.exp_avg_sq"))
                .map_err(|_| invalid(format!("{path}.exp_avg_sq is missing")))?;
            let load = |data: &[u8]| {
                let values: Vec<f32> = bytemuck::pod_collect_to_vec(data);
                let len = values.len();
                Tensor::<1>::from_data(TensorData::new(values, [len]), device)
            };
            moments.insert(
                path.to_string(),
                Moments {
                    shape: view.shape().to_vec(),
                    exp_avg: load(view.data()),
                    exp_avg_sq: load(squared.data()),
                },
            );
        }
        Ok(Self {
            config,
            step,
            moments,
        })
    }
}

struct AdamMapper<'a> {
    adam: &'a mut Adam,
    grads: GradientsParams,
    path: Vec<String>,
}

impl ModuleMapper for AdamMapper<'_> {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let Some(grad) = self.grads.remove::<D>(id) else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let config = self.adam.config;
        let step = self.adam.step as i32;
        let path = self.path.join(".");
        let shape = tensor.dims().to_vec();
        let len: usize = shape.iter().product();

        let require_grad = tensor.is_require_grad();
        let value: Tensor<1> = tensor.inner().reshape([len]);
        let grad: Tensor<1> = grad.reshape([len]);

        let moments = self.adam.moments.entry(path).or_insert_with(|| Moments {
            shape: shape.clone(),
            exp_avg: grad.zeros_like(),
            exp_avg_sq: grad.zeros_like(),
        });
        moments.exp_avg = moments
            .exp_avg
            .clone()
            .mul_scalar(config.beta1)
            .add(grad.clone().mul_scalar(1.0 - config.beta1));
        moments.exp_avg_sq = moments
            .exp_avg_sq
            .clone()
            .mul_scalar(config.beta2)
            .add(grad.square().mul_scalar(1.0 - config.beta2));

        let bias_correction1 = 1.0 - config.beta1.powi(step);
        let bias_correction2_sqrt = (1.0 - config.beta2.powi(step)).sqrt();
        let denominator = moments
            .exp_avg_sq
            .clone()
            .sqrt()
            .div_scalar(bias_correction2_sqrt)
            .add_scalar(config.epsilon);
        let update = moments
            .exp_avg
            .clone()
            .div(denominator)
            .mul_scalar(config.learning_rate / bias_correction1);

        let updated: Tensor<D> = (value - update).reshape(shape_array::<D>(&shape));
        let mut updated = Tensor::from_inner(updated);
        if require_grad {
            updated = updated.require_grad();
        }
        Param::from_mapped_value(id, updated, mapper)
    }
}

fn shape_array<const D: usize>(shape: &[usize]) -> [usize; D] {
    shape.try_into().expect("a parameter keeps its rank")
}
