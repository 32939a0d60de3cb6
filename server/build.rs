//! Rebuild when the generated portal changes: `include_dir!` embeds files, but cargo only
//! notices new or removed ones through this.
fn main() {
    println!("cargo::rerun-if-changed=../portal/site");
}
