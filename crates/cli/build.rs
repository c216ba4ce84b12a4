//! With the `tch` feature, records LibTorch's library folder as the binary's run-time search
//! path, so that `irl` finds libtorch without `LD_LIBRARY_PATH` while that folder stays.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-env-changed=LIBTORCH_USE_PYTORCH");
    if std::env::var_os("CARGO_FEATURE_TCH").is_none() {
        return;
    }
    let Some(folder) = libtorch_folder() else {
        println!(
            "cargo:warning=LibTorch's library folder was not found, so the binary needs \
             LD_LIBRARY_PATH set to it at run time"
        );
        return;
    };
    println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{}", folder.display());
}

/// Returns the folder with libtorch's shared libraries: `$LIBTORCH/lib`, or the `lib` folder
/// of the `torch` package of the `python3` on PATH, as torch-sys finds it with
/// `LIBTORCH_USE_PYTORCH=1`.
fn libtorch_folder() -> Option<PathBuf> {
    if let Some(root) = std::env::var_os("LIBTORCH") {
        return Some(PathBuf::from(root).join("lib"));
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))",
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let folder = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    folder.is_dir().then_some(folder)
}
