//! Compile tests of `#[verify_session]`: `ui/pass/*.rs` must compile, `ui/fail/*.rs` must fail
//! with exactly the committed `.stderr`.
//!
//! rustc rewords its diagnostics between releases, so the snapshots only run on the toolchain
//! they were generated with, recorded in `ui/RUSTC_VERSION`. To move to a new toolchain: change
//! the version below and in `ui/RUSTC_VERSION`, run
//! `TRYBUILD=overwrite cargo test -p sessionward-tests --test ui`, and review every `.stderr`.

/// Declares the snapshot toolchain once: the `rustversion` gate and [`SNAPSHOT_RUSTC`] can't
/// drift apart.
macro_rules! snapshots_made_with {
    ($version:tt) => {
        /// The `rustc` minor version the `.stderr` snapshots were made with.
        const SNAPSHOT_RUSTC: &str = stringify!($version);

        #[test]
        #[rustversion::attr(
            not(stable($version)),
            ignore = "the .stderr snapshots match one rustc version only; see tests/ui/RUSTC_VERSION"
        )]
        fn ui() {
            let tests = trybuild::TestCases::new();
            tests.pass("ui/pass/*.rs");
            tests.compile_fail("ui/fail/*.rs");
        }
    };
}

snapshots_made_with!(1.95);

/// Runs on every toolchain, so a version bump that forgets the file (or the gate) fails CI.
#[test]
fn rustc_version_file_matches_the_gate() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/ui/RUSTC_VERSION");
    let recorded =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {path}: {error}"));
    assert_eq!(
        recorded.trim(),
        SNAPSHOT_RUSTC,
        "{path} says the .stderr snapshots were made with rustc {}, but tests/ui.rs is gated on \
         rustc {SNAPSHOT_RUSTC}; regenerate the snapshots and update both",
        recorded.trim(),
    );
}
