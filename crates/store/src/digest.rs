//! BLAKE3 digests, typed by what they name.
//!
//! Objects are named by the digest of their bytes and stages by the digest of their cache key. The
//! two never mix, so each has its own type. Logs print the short form, files the whole hex string.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Number of hex characters in the short form printed in logs and tables.
pub const SHORT_LEN: usize = 12;

macro_rules! digest_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name([u8; 32]);

        impl $name {
            /// Wraps raw digest bytes.
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// Hashes `data` with BLAKE3.
            pub fn of(data: &[u8]) -> Self {
                Self(*blake3::hash(data).as_bytes())
            }

            /// Raw digest bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// Whole lowercase hex string (64 characters).
            pub fn to_hex(&self) -> String {
                hex::encode(self.0)
            }

            /// First characters of the hex string, for logs and tables.
            pub fn short(&self) -> String {
                self.to_hex()[..SHORT_LEN].to_string()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.short())
            }
        }

        impl FromStr for $name {
            type Err = DigestParseError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(text, &mut bytes).map_err(|_| DigestParseError {
                    text: text.to_string(),
                })?;
                Ok(Self(bytes))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.to_hex())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = String::deserialize(deserializer)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

digest_type!(
    /// Digest of an object's bytes: the name of the object in the store.
    ObjectDigest
);
digest_type!(
    /// Digest of a stage's canonical cache key: the name of its record.
    StageKey
);

/// A string that is not 64 hex characters.
#[derive(Debug, thiserror::Error)]
#[error("invalid digest {text:?}: expected 64 hex characters")]
pub struct DigestParseError {
    text: String,
}
