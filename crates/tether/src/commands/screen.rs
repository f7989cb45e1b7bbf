//! `tether monitors`, `tether screenshot` and `tether input`: the one-shot
//! screen commands for scripts and tickets.

use std::io::Write;
use std::path::Path;

use anyhow::Context;
use serde::Serialize;
use tether_proto::screen::{InputEvent, Monitor, MouseButton, parse_combo};
use tether_screen_codec::{Decoder, Frame};

use tether_client::Session;

use super::{Done, Screenshot};
use crate::render::{self, Align, table};

/// Lists the monitors of the display `session`'s agent captures.
pub async fn monitors(session: &Session, json: bool) -> anyhow::Result<Done> {
    let list = session.monitors().await?;
    let summary = match list.iter().find(|m| m.primary) {
        Some(m) => format!(
            "monitors: {}, primary {} {}x{}",
            list.len(),
            render::remote(&m.name),
            m.width,
            m.height
        ),
        None => format!("monitors: {}", list.len()),
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(Done::success(summary));
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|m| {
            vec![
                m.index.to_string(),
                m.name.clone(),
                format!("{}x{}", m.width, m.height),
                format!("{:+}{:+}", m.x, m.y),
                if m.primary { "yes".into() } else { String::new() },
            ]
        })
        .collect();
    let headers = [
        ("#", Align::Right),
        ("NAME", Align::Left),
        ("SIZE", Align::Left),
        ("AT", Align::Left),
        ("PRIMARY", Align::Left),
    ];
    print!("{}", table(&headers, &rows));
    Ok(Done::success(summary))
}

/// The `--json` document of `tether screenshot`.
#[derive(Debug, Serialize)]
struct ScreenshotReport<'a> {
    host: &'a str,
    file: String,
    monitor: &'a Monitor,
    width: u32,
    height: u32,
    /// Bytes the frame took on the wire.
    encoded_bytes: usize,
    pointer: Option<(i32, i32)>,
}

/// Takes one frame of the screen on `session` and writes it to `output`
/// as PNG; `host` is the HOST argument, for the JSON report.
pub async fn screenshot(
    session: &Session,
    host: &str,
    output: &Path,
    monitor: Option<u32>,
    json: bool,
) -> anyhow::Result<Done> {
    let shot = session.screenshot(monitor).await?;
    let target = session.describe();
    let frame = decode_screenshot(&shot.encoded, &shot.monitor)
        .with_context(|| format!("{target}: the screenshot could not be decoded"))?;
    let encoded_bytes = shot.encoded.len();
    drop(shot.encoded);
    // Encoded once in memory: the bytes written are the bytes a ticket
    // keeps (reading the file back would keep whatever replaced it).
    let png = encode_png(&frame).context("cannot encode the screenshot as PNG")?;
    std::fs::write(output, &png).with_context(|| format!("cannot write {}", output.display()))?;
    let report = ScreenshotReport {
        host,
        file: output.display().to_string(),
        monitor: &shot.monitor,
        width: frame.width(),
        height: frame.height(),
        encoded_bytes,
        pointer: shot.pointer,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!(
            "saved {} ({}x{}, monitor {}; {} KiB on the wire)",
            report.file,
            report.width,
            report.height,
            shot.monitor.index,
            report.encoded_bytes.div_ceil(1024)
        );
    }
    let summary = format!(
        "screenshot: {} ({}x{}, monitor {})",
        render::remote(&report.file),
        report.width,
        report.height,
        shot.monitor.index
    );
    let name = output
        .file_name()
        .map_or_else(|| "screenshot.png".to_owned(), |n| n.to_string_lossy().into_owned());
    Ok(Done { screenshot: Some(Screenshot { name, png }), ..Done::success(summary) })
}

/// Decodes a screenshot, holding the agent to the monitor size it named
/// and to [`tether_view::stream::MAX_MONITOR_PIXELS`]: a larger monitor is
/// refused before anything is allocated, and the decoder's own frame is
/// kept rather than copied (one frame, at most 126.6 MiB).
pub fn decode_screenshot(encoded: &[u8], monitor: &Monitor) -> anyhow::Result<Frame> {
    let mut decoder = Decoder::new();
    tether_view::stream::decode_for(&mut decoder, encoded, monitor)?;
    decoder.into_frame().context("the decoder kept no frame")
}

/// Writes a frame as an 8-bit RGB PNG, a row at a time (no second copy of
/// the image in memory).
/// `frame` as PNG bytes.
pub fn encode_png(frame: &Frame) -> anyhow::Result<Vec<u8>> {
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, frame.width(), frame.height());
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header()?;
    let mut stream = writer.stream_writer()?;
    let mut rgb = Vec::with_capacity(frame.width() as usize * 3);
    for row in frame.pixels().chunks_exact(frame.width() as usize) {
        rgb.clear();
        for &p in row {
            rgb.extend_from_slice(&[(p >> 16) as u8, (p >> 8) as u8, p as u8]);
        }
        stream.write_all(&rgb)?;
    }
    stream.finish()?;
    writer.finish()?;
    Ok(png)
}

/// What `tether input` was asked to do.
#[derive(Debug)]
pub struct Actions {
    pub move_to: Option<(i32, i32)>,
    pub click: Option<(i32, i32)>,
    pub button: MouseButton,
    pub scroll: Option<i32>,
    pub keys: Option<String>,
    pub text: Option<String>,
}

impl Actions {
    /// The events, in the documented order.
    pub fn events(&self) -> anyhow::Result<Vec<InputEvent>> {
        let mut events = Vec::new();
        if let Some((x, y)) = self.move_to {
            events.push(InputEvent::MouseMove { x, y });
        }
        if let Some((x, y)) = self.click {
            events.push(InputEvent::MouseMove { x, y });
            events.push(InputEvent::Button { button: self.button, pressed: true });
            events.push(InputEvent::Button { button: self.button, pressed: false });
        }
        if let Some(steps) = self.scroll {
            events.push(InputEvent::Scroll { dx: 0, dy: steps });
        }
        if let Some(text) = &self.text {
            events.push(InputEvent::Text(text.clone()));
        }
        if let Some(combo) = &self.keys {
            let keys = parse_combo(combo).map_err(|e| anyhow::anyhow!("--keys: {e}"))?;
            events.extend(keys.iter().map(|&key| InputEvent::Key { key, pressed: true }));
            events.extend(keys.iter().rev().map(|&key| InputEvent::Key { key, pressed: false }));
        }
        if events.is_empty() {
            anyhow::bail!("nothing to send: give --move, --click, --scroll, --keys or --type");
        }
        for event in &events {
            event.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Ok(events)
    }
}

/// Sends `actions` as input on `session`; `host` is the HOST argument,
/// for the JSON report.
pub async fn input(
    session: &Session,
    host: &str,
    actions: Actions,
    monitor: Option<u32>,
    json: bool,
) -> anyhow::Result<Done> {
    let events = actions.events()?;
    let events = session.input(monitor, events).await?;
    if json {
        println!("{}", serde_json::json!({ "host": host, "events": events }));
    } else {
        println!("{}: {events} input events sent", session.describe());
    }
    Ok(Done::success(format!("input: {events} events sent")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tether_proto::screen::Key;

    #[test]
    fn actions_become_events_in_order() {
        let actions = Actions {
            move_to: None,
            click: Some((5, 6)),
            button: MouseButton::Right,
            scroll: Some(-2),
            keys: Some("ctrl+c".into()),
            text: Some("hi".into()),
        };
        let events = actions.events().unwrap();
        assert_eq!(
            events,
            [
                InputEvent::MouseMove { x: 5, y: 6 },
                InputEvent::Button { button: MouseButton::Right, pressed: true },
                InputEvent::Button { button: MouseButton::Right, pressed: false },
                InputEvent::Scroll { dx: 0, dy: -2 },
                InputEvent::Text("hi".into()),
                InputEvent::Key { key: Key::Control, pressed: true },
                InputEvent::Key { key: Key::Char('c'), pressed: true },
                InputEvent::Key { key: Key::Char('c'), pressed: false },
                InputEvent::Key { key: Key::Control, pressed: false },
            ]
        );
        let none = Actions { click: None, scroll: None, keys: None, text: None, ..actions };
        assert!(none.events().is_err());
    }
}
