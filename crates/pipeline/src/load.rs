//! Reading a pipeline file and its `--set` overrides, with errors that point at the mistake.

use std::path::{Path, PathBuf};

use serde_yaml::Value;

use crate::config::Pipeline;

/// Location of a mistake: a place in the file, or one `--set` override.
#[derive(Debug, Clone, PartialEq)]
pub enum Origin {
    File {
        path: PathBuf,
        line: Option<usize>,
        column: Option<usize>,
    },
    Override(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File {
                path,
                line: Some(line),
                column: Some(column),
            } => write!(f, "{}:{line}:{column}", path.display()),
            Origin::File { path, .. } => write!(f, "{}", path.display()),
            Origin::Override(text) => write!(f, "--set {text}"),
        }
    }
}

/// A pipeline that cannot be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("failed to read pipeline file {path}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: unknown key `{key}`{}; valid keys here: {}", suggestion_text(.suggestion), .valid.join(", "))]
    UnknownKey {
        origin: Box<Origin>,
        key: String,
        suggestion: Option<String>,
        valid: Vec<String>,
    },
    #[error("{origin}: invalid value for `{key}`: {message}")]
    InvalidValue {
        origin: Box<Origin>,
        key: String,
        message: String,
    },
    #[error("{origin}: {message}")]
    Syntax {
        origin: Box<Origin>,
        message: String,
    },
    #[error("--set {text}: expected dotted.key=value, such as --set training.epochs=2")]
    OverrideSyntax { text: String },
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(key) => format!(" (did you mean `{key}`?)"),
        None => String::new(),
    }
}

/// Reads the pipeline at `path` and applies `overrides` (`dotted.key=value`, the value parsed as
/// YAML), each checked like the file.
pub fn load(path: &Path, overrides: &[String]) -> Result<Pipeline, PipelineError> {
    let text = fs_err::read_to_string(path).map_err(|source| PipelineError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse(&text, path, overrides)
}

/// Parses pipeline `text`; `path` names it in errors.
pub fn parse(text: &str, path: &Path, overrides: &[String]) -> Result<Pipeline, PipelineError> {
    // The typed pass over the text itself gives errors a line and a column.
    let deserializer = serde_yaml::Deserializer::from_str(text);
    let pipeline: Pipeline = serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let location = error.inner().location();
        let origin = Origin::File {
            path: path.to_path_buf(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
        };
        classify(origin, error.path().to_string(), error.inner().to_string())
    })?;
    if overrides.is_empty() {
        return checked(pipeline, path, overrides);
    }

    let mut value = serde_yaml::to_value(&pipeline).expect("a pipeline encodes as YAML");
    for text in overrides {
        let (key, raw) = text
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| PipelineError::OverrideSyntax { text: text.clone() })?;
        let parsed: Value = serde_yaml::from_str(raw).unwrap_or(Value::String(raw.to_string()));
        set_dotted(&mut value, key, parsed);
        // Check after each override, so the error names the one that broke the pipeline.
        serde_path_to_error::deserialize::<_, Pipeline>(value.clone()).map_err(|error| {
            classify(
                Origin::Override(text.clone()),
                error.path().to_string(),
                error.inner().to_string(),
            )
        })?;
    }
    let pipeline: Pipeline =
        serde_yaml::from_value(value).expect("checked after the last override");
    checked(pipeline, path, overrides)
}

/// Checks the ranges and combinations of settings, then fills in the defaults that depend on
/// the model kind.
/// A rejected value that came from an override is reported as that override.
fn checked(
    pipeline: Pipeline,
    path: &Path,
    overrides: &[String],
) -> Result<Pipeline, PipelineError> {
    pipeline.validate().map_err(|(key, message)| {
        let from_override = overrides
            .iter()
            .rev()
            .find(|text| text.split_once('=').is_some_and(|(name, _)| name == key));
        let origin = match from_override {
            Some(text) => Origin::Override(text.clone()),
            None => Origin::File {
                path: path.to_path_buf(),
                line: None,
                column: None,
            },
        };
        PipelineError::InvalidValue {
            origin: Box::new(origin),
            key: key.to_string(),
            message,
        }
    })?;
    Ok(pipeline.resolved())
}

fn set_dotted(root: &mut Value, key: &str, new: Value) {
    let mut node = root;
    let parts: Vec<&str> = key.split('.').collect();
    for (index, part) in parts.iter().enumerate() {
        if !node.is_mapping() {
            *node = Value::Mapping(Default::default());
        }
        let mapping = node.as_mapping_mut().expect("made a mapping above");
        let name = Value::String(part.to_string());
        if index + 1 == parts.len() {
            mapping.insert(name, new);
            return;
        }
        node = mapping
            .entry(name)
            .or_insert_with(|| Value::Mapping(Default::default()));
    }
}

/// Turns a serde message into a typed error. serde words an unknown field as
/// "unknown field `x`, expected one of `a`, `b`" (or "expected `a`").
fn classify(origin: Origin, path: String, message: String) -> PipelineError {
    let origin = Box::new(origin);
    let message = strip_location(&message);
    // serde_yaml puts its own path in front ("iterate: unknown field ..."), and the key names it.
    if let Some(index) = message.find("unknown field `") {
        let rest = &message[index + "unknown field `".len()..];
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let valid: Vec<String> = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        let suggestion = nearest(key, &valid);
        let parent = path
            .rsplit_once('.')
            .map(|(parent, _)| format!("{parent}."))
            .unwrap_or_default();
        return PipelineError::UnknownKey {
            origin,
            key: format!("{parent}{key}"),
            suggestion: suggestion.map(|name| format!("{parent}{name}")),
            valid,
        };
    }
    if path == "." || path.is_empty() {
        return PipelineError::Syntax { origin, message };
    }
    let message = message
        .replace("expected usize", "expected a whole number >= 0")
        .replace("expected u64", "expected a whole number >= 0")
        .replace("expected u32", "expected a whole number >= 0")
        .replace("expected f64", "expected a number");
    let hint = if message.contains("expected a boolean") {
        "; write true or false"
    } else {
        ""
    };
    PipelineError::InvalidValue {
        origin,
        key: path,
        message: format!("{message}{hint}"),
    }
}

/// serde_yaml puts its own path in front of a message ("training.epochs: invalid type ...") and
/// " at line L column C" after it; the error's key and origin carry both already.
fn strip_location(message: &str) -> String {
    let message = match message.rfind(" at line ") {
        Some(index) => &message[..index],
        None => message,
    };
    match message.split_once(": ") {
        Some((path, rest)) if !path.contains(' ') => rest.to_string(),
        _ => message.to_string(),
    }
}

/// Finds the valid key closest to `key` by edit distance, if one is close enough to be a typo.
fn nearest(key: &str, valid: &[String]) -> Option<String> {
    valid
        .iter()
        .map(|name| (strsim::damerau_levenshtein(key, name), name))
        .filter(|(distance, name)| *distance <= (name.len().max(key.len()) / 2).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, name)| name.clone())
}

/// Encodes the resolved pipeline as YAML that reads back the same under YAML 1.1 and 1.2.
///
/// serde_yaml 0.9 quotes strings that YAML 1.2 would read as another type (`true`, `1e3`), but
/// leaves YAML 1.1's extra booleans (`yes`, `no`, `on`, `off`, `y`, `n`) plain, and PyYAML reads
/// those as booleans. serde_yaml writes real booleans as `true`/`false`, so a plain value that is
/// one of those words is always a string, and it is quoted here.
pub fn to_yaml(pipeline: &Pipeline) -> String {
    let yaml = serde_yaml::to_string(pipeline).expect("a pipeline encodes as YAML");
    let mut quoted = String::with_capacity(yaml.len());
    for line in yaml.lines() {
        let split = line.find(": ").map(|index| index + 2).or_else(|| {
            line.trim_start()
                .starts_with("- ")
                .then(|| line.find("- ").unwrap() + 2)
        });
        match split {
            Some(index) if is_yaml11_boolean(&line[index..]) => {
                quoted.push_str(&line[..index]);
                quoted.push_str(&format!("'{}'", &line[index..]));
            }
            _ => quoted.push_str(line),
        }
        quoted.push('\n');
    }
    quoted
}

fn is_yaml11_boolean(value: &str) -> bool {
    const WORDS: [&str; 6] = ["y", "n", "yes", "no", "on", "off"];
    WORDS.iter().any(|word| value.eq_ignore_ascii_case(word))
}
