//! The `serde` feature: parameter types round-trip with validation, and secrets
//! serialize only through the named `serde_secret` helper.
#![cfg(test)]
#![cfg(feature = "serde")]

use serde::{Deserialize, Serialize};
use twofold_totp::{Algorithm, Digits, Period, Secret, TotpParams, Window};

#[derive(Serialize, Deserialize)]
struct Stored {
    #[serde(with = "twofold_totp::serde_secret")]
    secret: Secret,
    params: TotpParams,
}

#[test]
fn parameters_round_trip_and_are_validated() {
    let params = TotpParams {
        algorithm: Algorithm::Sha256,
        digits: Digits::EIGHT,
        period: Period::new(60).unwrap(),
        t0: 5,
        window: Window::new(2, 1).unwrap(),
    };
    let json = serde_json::to_string(&params).unwrap();
    assert_eq!(
        json,
        r#"{"algorithm":"SHA256","digits":8,"period":60,"t0":5,"window":{"back":2,"ahead":1}}"#
    );
    assert_eq!(serde_json::from_str::<TotpParams>(&json).unwrap(), params);
    for bad in [
        json.replace(r#""digits":8"#, r#""digits":9"#),
        json.replace(r#""period":60"#, r#""period":0"#),
        json.replace(r#""back":2"#, r#""back":50"#),
    ] {
        assert!(serde_json::from_str::<TotpParams>(&bad).is_err(), "{bad}");
    }
}

#[test]
fn secrets_serialize_only_by_name() {
    let stored = Stored {
        secret: Secret::from_base32("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").unwrap(),
        params: TotpParams::default(),
    };
    let json = serde_json::to_string(&stored).unwrap();
    assert!(json.contains(r#""secret":"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP""#));
    let back: Stored = serde_json::from_str(&json).unwrap();
    assert_eq!(back.secret, stored.secret);
    assert!(serde_json::from_str::<Stored>(&json.replace("JBSW", "JB1W")).is_err());
}

#[test]
fn windows_digits_and_periods_round_trip_with_validation() {
    use twofold_totp::{Digits, Period, Window};
    let window = Window::new(2, 3).unwrap();
    let json = serde_json::to_string(&window).unwrap();
    assert_eq!(json, r#"{"back":2,"ahead":3}"#);
    assert_eq!(serde_json::from_str::<Window>(&json).unwrap(), window);
    assert!(serde_json::from_str::<Window>(r#"{"back":11,"ahead":0}"#).is_err());
    assert_eq!(serde_json::to_string(&Digits::SEVEN).unwrap(), "7");
    assert_eq!(serde_json::from_str::<Digits>("8").unwrap(), Digits::EIGHT);
    assert!(serde_json::from_str::<Digits>("9").is_err());
    assert_eq!(
        serde_json::to_string(&Period::new(60).unwrap()).unwrap(),
        "60"
    );
    assert!(serde_json::from_str::<Period>("0").is_err());
}
