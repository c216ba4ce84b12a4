//! Resident memory of this process, from /proc/self/status (Linux).

/// Current resident set size (VmRSS) in bytes; None where /proc is not available.
pub fn resident_bytes() -> Option<u64> {
    status_kib("VmRSS:").map(|kib| kib * 1024)
}

/// Peak resident set size of the process so far (VmHWM) in bytes.
pub fn peak_resident_bytes() -> Option<u64> {
    status_kib("VmHWM:").map(|kib| kib * 1024)
}

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn peak_is_at_least_current() {
        let current = resident_bytes().unwrap();
        assert!(current > 1 << 20, "{current}");
        assert!(peak_resident_bytes().unwrap() >= current);
    }
}
