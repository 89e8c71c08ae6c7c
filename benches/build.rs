//! Declares the `twofold_parent` cfg, with which `benches/attack-burst.sh`
//! builds the attack-burst benchmark against the parent commit's API.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(twofold_parent)");
}
