// Links libfastpt.so from FASTPT_LIB_DIR, or from where `dotnet publish src/FastPT.Native
// -c Release -r linux-x64` puts it, and records that folder as the run path.
use std::path::PathBuf;

fn main() {
    let dir = match std::env::var("FASTPT_LIB_DIR") {
        Ok(d) => PathBuf::from(d),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../src/FastPT.Native/bin/Release/net10.0/linux-x64/publish"),
    };
    let dir = dir.canonicalize().unwrap_or_else(|_| {
        panic!("{} has no libfastpt.so: run `dotnet publish src/FastPT.Native -c Release -r linux-x64` or set FASTPT_LIB_DIR", dir.display())
    });
    println!("cargo:rustc-link-search=native={}", dir.display());
    println!("cargo:rustc-link-lib=dylib=fastpt");
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", dir.display());
    println!("cargo:rerun-if-env-changed=FASTPT_LIB_DIR");
}
