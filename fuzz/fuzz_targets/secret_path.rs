//! Secret paths as they arrive in URLs (`/v1/secrets/{path}`) and bodies: parsing never panics,
//! and a parsed path shows as itself and parses back to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scaivault_core::{SecretPath, validate_prefix};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(path) = SecretPath::parse(input) {
        let shown = path.to_string();
        assert_eq!(shown, path.as_str());
        assert_eq!(shown, input, "a valid path is taken as written");
        assert_eq!(SecretPath::parse(&shown), Ok(path));
    }
    let _ = validate_prefix(input);
});
