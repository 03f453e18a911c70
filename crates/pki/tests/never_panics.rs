//! Every decoder of untrusted input returns an error rather than panicking, on arbitrary input
//! and on mutations of valid input (CSRs, certificates, OCSP requests, PEM keys).
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test helpers fail the test loudly, as the tests themselves do"
)]

use std::sync::OnceLock;

use proptest::prelude::*;
use scaivault_pki::*;
use time::macros::datetime;

struct Samples {
    csr_der: Vec<u8>,
    cert_der: Vec<u8>,
    key_pem: String,
}

/// A CSR (built with rcgen), a CA certificate and its key, made once.
fn samples() -> &'static Samples {
    static SAMPLES: OnceLock<Samples> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        let from = datetime!(2030-01-01 0:00 UTC);
        let key = PrivateKey::generate(KeyType::EcP256).unwrap();
        let spec = CaSpec {
            subject: Subject::cn("Fuzz CA"),
            validity: Validity::days(from, 365),
            serial: Serial::random(),
            path_len: Some(1),
            permitted_dns_domains: vec!["example.com".to_string()],
            excluded_dns_domains: Vec::new(),
            crl_url: None,
            ocsp_url: None,
        };
        let cert_der = create_root_ca(&spec, &key).unwrap();
        let rk = rcgen::KeyPair::generate().unwrap();
        let params = rcgen::CertificateParams::new(vec!["a.example.com".to_string()]).unwrap();
        let csr_der = params.serialize_request(&rk).unwrap().der().to_vec();
        Samples {
            csr_der,
            cert_der,
            key_pem: key.to_pkcs8_pem().to_string(),
        }
    })
}

fn mutate(base: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
    let mut v = base.to_vec();
    for (at, byte) in edits {
        if !v.is_empty() {
            let i = at % v.len();
            v[i] = *byte;
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn strings_never_panic(s in ".{0,200}") {
        let _ = San::parse(&s);
        let _ = Serial::from_hex(&s);
        let _ = parse_csr(&s);
        let _ = pem_decode_cert(&s);
        let _ = PrivateKey::from_pem(&s);
        let _ = ocsp::parse_get_path(&s);
        let _ = s.parse::<KeyType>();
        let _ = s.parse::<Usage>();
        let _ = s.parse::<RevocationReason>();
    }

    #[test]
    fn bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = inspect(&b);
        let _ = ocsp::parse_request(&b);
        let _ = PrivateKey::from_pkcs8_der(&b);
        let _ = parse_csr(&pem_encode("CERTIFICATE REQUEST", &b));
    }

    #[test]
    fn mutated_csr_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let der = mutate(&samples().csr_der, &edits);
        let _ = parse_csr(&pem_encode("CERTIFICATE REQUEST", &der));
    }

    #[test]
    fn mutated_cert_never_panics(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let der = mutate(&samples().cert_der, &edits);
        let _ = inspect(&der);
        let pem = pem_encode("CERTIFICATE", &der);
        let _ = import_ca(&pem, &samples().key_pem);
    }

    #[test]
    fn serial_hex_round_trips(bytes in proptest::collection::vec(any::<u8>(), 1..20)) {
        prop_assume!(bytes.iter().any(|b| *b != 0));
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        let serial = Serial::from_hex(&hex).unwrap();
        prop_assert_eq!(Serial::from_hex(&serial.to_hex()).unwrap(), serial.clone());
        prop_assert!(serial.as_bytes().first().is_some_and(|b| *b != 0));
    }
}

#[test]
fn valid_samples_parse() {
    let s = samples();
    let csr = parse_csr(&pem_encode("CERTIFICATE REQUEST", &s.csr_der)).unwrap();
    assert_eq!(csr.sans, vec![San::Dns("a.example.com".into())]);
    assert!(inspect(&s.cert_der).unwrap().is_ca);
    import_ca(&pem_encode("CERTIFICATE", &s.cert_der), &s.key_pem).unwrap();
}
