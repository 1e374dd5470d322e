//! Sealing secrets at rest with AES-256-GCM.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error(
        "secrets key must be 32 bytes, base64-encoded (e.g. `head -c 32 /dev/urandom | base64`): {0}"
    )]
    BadKey(String),
    #[error(
        "sealed value does not open with key {key_id}: wrong key, or the value was tampered with or moved"
    )]
    Open { key_id: String },
    #[error("sealed value was sealed with key {found}, this process holds {held}")]
    UnknownKey { found: String, held: String },
}

/// Seals and opens secrets with one key. `Debug` shows only the key id.
#[derive(Clone)]
pub struct SecretBox {
    cipher: Aes256Gcm,
    key_id: String,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SecretBox {
    /// A box for a base64-encoded 32-byte key. The key id is derived from the key, so a
    /// value sealed under another key is recognised as such.
    pub fn from_base64(key_b64: &str) -> Result<Self, SecretError> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(key_b64.trim())
            .map_err(|e| SecretError::BadKey(e.to_string()))?;
        if raw.len() != 32 {
            return Err(SecretError::BadKey(format!("got {} bytes", raw.len())));
        }
        let id = Sha256::digest([b"customs-key-id:".as_slice(), &raw].concat());
        let key_id = id[..6].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&raw)),
            key_id,
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// `nonce || ciphertext`, bound to `context` (authenticated, not stored).
    pub fn seal(&self, plaintext: &[u8], context: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        // Encryption with a valid key and a fresh nonce cannot fail.
        let ct = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context,
                },
            )
            .unwrap_or_default();
        out.extend_from_slice(&ct);
        out
    }

    pub fn open(
        &self,
        sealed: &[u8],
        context: &[u8],
        key_id: &str,
    ) -> Result<Vec<u8>, SecretError> {
        if key_id != self.key_id {
            return Err(SecretError::UnknownKey {
                found: key_id.to_owned(),
                held: self.key_id.clone(),
            });
        }
        if sealed.len() < NONCE_LEN {
            return Err(SecretError::Open {
                key_id: key_id.to_owned(),
            });
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context,
                },
            )
            .map_err(|_| SecretError::Open {
                key_id: key_id.to_owned(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

    #[test]
    fn sealed_values_open_only_in_their_context_and_under_their_key() {
        let b = SecretBox::from_base64(KEY).expect("key");
        let sealed = b.seal(b"hunter2", b"admin\0reg");
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(
            b.open(&sealed, b"admin\0reg", b.key_id()).expect("open"),
            b"hunter2"
        );
        assert!(matches!(
            b.open(&sealed, b"other\0reg", b.key_id()),
            Err(SecretError::Open { .. })
        ));
        let mut tampered = sealed.clone();
        tampered[20] ^= 1;
        assert!(b.open(&tampered, b"admin\0reg", b.key_id()).is_err());
        assert!(matches!(
            b.open(&sealed, b"admin\0reg", "nope"),
            Err(SecretError::UnknownKey { .. })
        ));
        assert_ne!(
            b.seal(b"x", b""),
            b.seal(b"x", b""),
            "fresh nonce each time"
        );
        assert!(format!("{b:?}").contains("key_id") && !format!("{b:?}").contains(KEY));
        assert!(SecretBox::from_base64("c2hvcnQ=").is_err());
    }
}
