//! Times grabs of monitor 0: `grab_bench [DISPLAY] [x11|scrap|x11-getimage]`.
//!
//! Prints the median, p90 and max of 200 grabs (after 10 warm-up grabs).
//! Run in release: `cargo run --release -p tether-capture --example
//! grab_bench -- :99`.

use std::time::{Duration, Instant};

use tether_capture::{Backend, Capturer, X11Capturer};

fn main() {
    let mut args = std::env::args().skip(1);
    let display = args.next();
    let backend = args.next().unwrap_or_else(|| "x11".to_owned());
    let opened: Result<Box<dyn Capturer>, _> = if backend == "x11-getimage" {
        X11Capturer::connect_without_shm(display.as_deref())
            .map(|c| Box::new(c) as Box<dyn Capturer>)
    } else {
        backend.parse::<Backend>().and_then(|b| tether_capture::open(b, display.as_deref()))
    };
    let mut cap = match opened {
        Ok(cap) => cap,
        Err(e) => {
            eprintln!("grab_bench: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = run(cap.as_mut()) {
        eprintln!("grab_bench: {e}");
        std::process::exit(1);
    }
}

fn run(cap: &mut dyn Capturer) -> Result<(), tether_capture::CaptureError> {
    let monitors = cap.monitors()?;
    let Some(m) = monitors.first() else {
        return Err(tether_capture::CaptureError::Backend("no monitors".into()));
    };
    for _ in 0..10 {
        cap.grab(m)?;
    }
    let mut times: Vec<Duration> = Vec::with_capacity(200);
    for _ in 0..200 {
        let start = Instant::now();
        let frame = cap.grab(m)?;
        times.push(start.elapsed());
        std::hint::black_box(frame);
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{} {}x{} ({}): 200 grabs, median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        cap.backend(),
        m.width,
        m.height,
        m.name,
        ms(times[100]),
        ms(times[180]),
        ms(times[199]),
    );
    Ok(())
}
