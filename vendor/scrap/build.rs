// Tether's patch (see vendor/README.md): the backend is chosen by the
// *target* being built, read from Cargo's CARGO_CFG_* variables, not by the
// build machine (`cfg!(windows)` in upstream 0.5.0), so a cross-build for
// Windows compiles the DXGI backend instead of X11.
fn main() {
    println!("cargo:rustc-check-cfg=cfg(dxgi, quartz, x11)");
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let family = std::env::var("CARGO_CFG_TARGET_FAMILY").unwrap_or_default();
    if os == "windows" {
        // The first choice is Windows because DXGI is amazing.
        println!("cargo:rustc-cfg=dxgi");
    } else if os == "macos" {
        // Quartz is second because macOS is the (annoying) exception.
        println!("cargo:rustc-cfg=quartz");
    } else if family.split(',').any(|f| f == "unix") {
        // On UNIX we pray that X11 (with XCB) is available.
        println!("cargo:rustc-cfg=x11");
    }
}
