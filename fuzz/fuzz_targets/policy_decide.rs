//! Parse any policy document (TOML or JSON), then decide over arbitrary facts:
//! never a panic, and whatever parses round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use twofold_policy::{Method, Methods, Mode, Policy, Timestamp, UserFacts};

fuzz_target!(|data: &[u8]| {
    // Layout: 16 bytes of facts, then the document.
    let Some((facts, document)) = data.split_first_chunk::<16>() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(document) else {
        return;
    };
    let parsed = if facts[0] & 1 == 0 {
        Policy::from_toml(text)
    } else {
        Policy::from_json(text)
    };
    let Ok(policy) = parsed else {
        return;
    };
    assert_eq!(Policy::from_toml(&policy.to_toml()).as_ref(), Ok(&policy));

    let roles: Vec<&str> = policy
        .document()
        .roles
        .keys()
        .map(String::as_str)
        .chain(["ghost"])
        .collect();
    let role = roles[usize::from(facts[1]) % roles.len()];
    let other = roles[usize::from(facts[2]) % roles.len()];
    let enrolled: Methods = Method::ALL
        .into_iter()
        .enumerate()
        .filter(|(i, _)| facts[3] & (1 << i) != 0)
        .map(|(_, m)| m)
        .collect();
    let seconds = |b: &[u8]| u64::from_le_bytes([b[0], b[1], b[2], b[3], 0, 0, 0, 0]) * 997;
    let now = Timestamp::from_unix_seconds(seconds(&facts[4..8]));
    let first = (facts[3] & 4 != 0).then(|| Timestamp::from_unix_seconds(seconds(&facts[8..12])));
    let user = UserFacts {
        user: if facts[3] & 8 != 0 { "u1" } else { "u2" },
        role,
        enrolled,
        has_backup_codes: facts[3] & 16 != 0,
        first_sign_in_since_enforcement: first,
        exempt: facts[3] & 32 != 0,
    };
    let target = UserFacts {
        user: "u3",
        role: other,
        ..user
    };

    let decision = policy.sign_in(&user, now);
    let _ = policy.rule_path(decision.rule);
    let _ = decision.reason.to_string();
    let _ = policy.self_disable(&user, first, now);
    let _ = policy.admin_reset(&user, &target, "reason", now);
    let _ = policy.admin_reset(&user, &user, "reason", now);
    let mode = [Mode::Off, Mode::Optional, Mode::Required][usize::from(facts[12]) % 3];
    let _ = policy.change_enforcement(&user, mode);
    let _ = policy.throttle(u32::from(facts[13]), first, now);
    let _ = policy.dry_run(&[user, target], now);
    let _ = policy.enforcement_applies(&user, now);
});
