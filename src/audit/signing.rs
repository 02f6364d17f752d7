//! Signed checkpoints: an ed25519 key signs each global checkpoint's hash, so that a
//! third party holding only the public key can verify an exported log
//! (`dunner audit export`, `dunner audit verify --export FILE --public-key PATH`).
//!
//! The private key is a PKCS#8 PEM file (`-----BEGIN PRIVATE KEY-----`, as
//! `dunner audit keygen` or `openssl genpkey -algorithm ed25519` writes it); the public
//! key file holds the 32 raw bytes in base64 on one line. Signatures are base64. The
//! signing itself is `ring`'s ed25519, already in the build through rustls.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::rand::SystemRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The file cannot be read.
    #[error("failed to read the key {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a key of the kind expected.
    #[error("{}: {reason}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The system's random source failed.
    #[error("failed to generate a key: the system's random source failed")]
    Generate,
}

const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// An ed25519 private key that signs checkpoints.
#[derive(Debug)]
pub struct Signer {
    pair: Ed25519KeyPair,
}

impl Signer {
    /// Reads a PKCS#8 PEM private key.
    pub fn load(path: &Path) -> Result<Signer, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let invalid = |reason: &str| KeyError::Invalid {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        };
        let body = text
            .trim()
            .strip_prefix(PEM_BEGIN)
            .and_then(|rest| rest.trim_end().strip_suffix(PEM_END))
            .ok_or_else(|| invalid("not a PEM private key (`-----BEGIN PRIVATE KEY-----`)"))?;
        let der = STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .map_err(|_| invalid("the PEM body is not base64"))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|_| invalid("not an ed25519 private key in PKCS#8"))?;
        Ok(Signer { pair })
    }

    /// The signature of `message`, base64.
    pub fn sign(&self, message: &[u8]) -> String {
        STANDARD.encode(self.pair.sign(message).as_ref())
    }

    /// The public key, base64 (what the `.pub` file holds).
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.pair.public_key().as_ref())
    }
}

/// A new key: the private key as PKCS#8 PEM and the public key as base64.
pub fn generate() -> Result<(String, String), KeyError> {
    let document =
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).map_err(|_| KeyError::Generate)?;
    let pair = Ed25519KeyPair::from_pkcs8(document.as_ref()).map_err(|_| KeyError::Generate)?;
    let encoded = STANDARD.encode(document.as_ref());
    let mut pem = String::from(PEM_BEGIN);
    pem.push('\n');
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    Ok((pem, STANDARD.encode(pair.public_key().as_ref())))
}

/// Reads a public key file (32 bytes, base64 on one line).
pub fn load_public(path: &Path) -> Result<Vec<u8>, KeyError> {
    let text = std::fs::read_to_string(path).map_err(|source| KeyError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let key = STANDARD
        .decode(text.trim())
        .ok()
        .filter(|key| key.len() == 32)
        .ok_or_else(|| KeyError::Invalid {
            path: path.to_path_buf(),
            reason:
                "not an ed25519 public key (32 bytes, base64, as `dunner audit keygen` writes it)"
                    .to_string(),
        })?;
    Ok(key)
}

/// Whether `signature` (base64) is the signature of `message` by `public_key`.
pub fn verify(public_key: &[u8], message: &[u8], signature: &str) -> bool {
    let Ok(signature) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(message, &signature)
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_signs_what_its_public_key_verifies_and_nothing_else() {
        let (pem, public) = generate().unwrap_or_default();
        let dir = std::env::temp_dir().join(format!("dunner-key-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("key.pem");
        let _ = std::fs::write(&path, pem);
        let signer = Signer::load(&path).map_err(|e| e.to_string());
        assert!(signer.is_ok(), "{signer:?}");
        let Ok(signer) = signer else { return };
        assert_eq!(signer.public_key(), public);
        let key = STANDARD.decode(&public).unwrap_or_default();
        let signature = signer.sign(b"checkpoint hash");
        assert!(verify(&key, b"checkpoint hash", &signature));
        assert!(!verify(&key, b"another hash", &signature));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
