//! Standard Webhooks signatures (`webhook-id`, `webhook-timestamp`, `webhook-signature`).
//!
//! The scheme of standardwebhooks.com, used by Svix and many receivers' libraries: the
//! signature is `v1,` + base64(HMAC-SHA256(key, "<id>.<timestamp>.<body>")).
//!
//! The key is the secret decoded exactly as the official libraries decode it (the Python
//! one: drop a `whsec_` prefix, then `base64.b64decode(secret + "==")`): with or without
//! the prefix, padded or not, characters outside base64's alphabet skipped. A receiver that
//! verifies with those libraries then accepts what herald signs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Why a secret has no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Its base64 does not decode (the libraries raise on it).
    #[error(
        "is not base64 after its \"whsec_\" prefix ({0}); the Standard Webhooks libraries reject it: mint one with `herald secret`"
    )]
    NotBase64(&'static str),
    /// It decodes to no bytes.
    #[error("decodes to an empty key; mint one with `herald secret`")]
    Empty,
}

/// The key bytes of a secret, as the Standard Webhooks libraries derive them.
///
/// # Errors
/// When the libraries would refuse the secret.
pub fn key(secret: &str) -> Result<Vec<u8>, KeyError> {
    let b64 = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key = lenient_base64(b64)?;
    if key.is_empty() {
        return Err(KeyError::Empty);
    }
    Ok(key)
}

/// CPython's `binascii.a2b_base64` in its default (non-strict) mode, on `text + "=="`:
/// characters outside the alphabet are skipped, and a pad sequence ends the input.
fn lenient_base64(text: &str) -> Result<Vec<u8>, KeyError> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut quad, mut left, mut pads) = (0u8, 0u8, 0u8);
    for c in text.bytes().chain(*b"==") {
        if c == b'=' {
            if quad >= 2 {
                pads += 1;
                if quad + pads >= 4 {
                    return Ok(out);
                }
            }
            continue;
        }
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => continue,
        };
        pads = 0;
        match quad {
            0 => left = v,
            1 => {
                out.push((left << 2) | (v >> 4));
                left = v & 0x0f;
            }
            2 => {
                out.push((left << 4) | (v >> 2));
                left = v & 0x03;
            }
            _ => out.push((left << 6) | v),
        }
        quad = (quad + 1) % 4;
    }
    match quad {
        0 => Ok(out),
        1 => Err(KeyError::NotBase64(
            "one character more than a multiple of four",
        )),
        _ => Err(KeyError::NotBase64("incorrect padding")),
    }
}

/// A new secret for a receiver: `whsec_` and the base64 of 32 random bytes from the
/// operating system, the form the Standard Webhooks libraries expect.
///
/// # Errors
/// When the operating system gives no randomness.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// The `webhook-signature` value for one request. A secret the libraries would refuse is
/// refused by `herald check` first; here it signs with its text as it is.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    let key = key(secret).unwrap_or_else(|_| secret.as_bytes().to_vec());
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// Checks a `webhook-signature` header (which may hold several space-separated
/// signatures) in constant time; what a receiver does, and what herald's tests do.
pub fn verify(secret: &str, id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Ok(key) = key(secret) else {
        return false;
    };
    let mut mac = HmacSha256::new_from_slice(&key).expect("HMAC takes keys of any length");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    header.split(' ').any(|sig| {
        sig.strip_prefix("v1,")
            .and_then(|b64| STANDARD.decode(b64).ok())
            .is_some_and(|bytes| mac.clone().verify_slice(&bytes).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_webhooks_reference_vector() {
        // The example of the Standard Webhooks specification.
        let sig = signature(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        assert!(verify(
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
            &format!("v1,bogus {sig}")
        ));
    }

    #[test]
    fn keys_decode_as_the_official_libraries_do() {
        let k = |s| key(s);
        // Padded, unpadded, no prefix: the same bytes.
        assert_eq!(k("whsec_aGVsbG8="), Ok(b"hello".to_vec()));
        assert_eq!(k("whsec_aGVsbG8"), Ok(b"hello".to_vec()));
        assert_eq!(k("aGVsbG8"), Ok(b"hello".to_vec()));
        // Characters outside the alphabet are skipped; a pad sequence ends the input.
        assert_eq!(k("whsec_aGV-sbG8"), Ok(b"hello".to_vec()));
        assert_eq!(k("whsec_aGVsbA==bG8"), Ok(b"hell".to_vec()));
        assert_eq!(
            k("whsec_abcde"),
            Err(KeyError::NotBase64(
                "one character more than a multiple of four"
            ))
        );
        assert_eq!(k("whsec_"), Err(KeyError::Empty));
        let fresh = new_secret().expect("randomness");
        assert_eq!(k(&fresh).map(|b| b.len()), Ok(32));
    }
}
