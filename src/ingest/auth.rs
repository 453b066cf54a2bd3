//! Checking who may post: the bearer token and env0's body signature, both compared in
//! constant time so a forger learns nothing from response times.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Equality whose time does not depend on where the inputs differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks `x-env0-signature`: the hex HMAC-SHA256 of the raw body with the secret,
/// optionally prefixed `sha256=`, in either case.
pub fn env0_signature_ok(secret: &str, body: &[u8], header: &str) -> bool {
    let hex_sig = header.trim();
    let hex_sig = hex_sig
        .strip_prefix("sha256=")
        .or_else(|| hex_sig.strip_prefix("SHA256="))
        .unwrap_or(hex_sig);
    let Ok(sig) = hex::decode(hex_sig.to_ascii_lowercase()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

/// The signature env0 would send for `body` (for tests and for scripts that replay env0).
pub fn env0_signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures() {
        let sig = env0_signature("s3cret", b"{}");
        assert!(env0_signature_ok("s3cret", b"{}", &sig));
        assert!(env0_signature_ok(
            "s3cret",
            b"{}",
            &format!("sha256={}", sig.to_uppercase())
        ));
        assert!(!env0_signature_ok("other", b"{}", &sig));
        assert!(!env0_signature_ok("s3cret", b"{ }", &sig));
        assert!(!env0_signature_ok("s3cret", b"{}", "zz"));
        assert!(
            constant_time_eq(b"abc", b"abc")
                && !constant_time_eq(b"abc", b"abd")
                && !constant_time_eq(b"a", b"ab")
        );
    }
}
