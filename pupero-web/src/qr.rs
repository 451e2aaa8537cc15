//! QR codes as small PNG images (Tor Browser's "Safest" level blocks SVG), embedded in the page
//! as `data:` URLs so that they cost no request and are never cached apart from the page.

use base64::Engine as _;
use qrcode::{Color, EcLevel, QrCode};

/// Pixels per module: a phone camera reads 4 px modules off a screen easily.
const MODULE_PX: usize = 4;

/// Blank modules around the code, as the standard asks.
const QUIET_ZONE: usize = 4;

/// A PNG of `text`'s QR code (black on white, one bit per pixel); `None` if the text is too
/// long for a QR code.
pub fn png(text: &str) -> Option<Vec<u8>> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M).ok()?;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE) * MODULE_PX;
    let row_bytes = side.div_ceil(8);
    let mut pixels = vec![0xFFu8; row_bytes * side];
    for y in 0..modules {
        for x in 0..modules {
            if colors[y * modules + x] != Color::Dark {
                continue;
            }
            for dy in 0..MODULE_PX {
                for dx in 0..MODULE_PX {
                    let px = (x + QUIET_ZONE) * MODULE_PX + dx;
                    let py = (y + QUIET_ZONE) * MODULE_PX + dy;
                    // Bit 7 is the leftmost pixel; 0 is black in greyscale.
                    pixels[py * row_bytes + px / 8] &= !(0x80u8 >> (px % 8));
                }
            }
        }
    }
    let mut out = Vec::new();
    let side = u32::try_from(side).ok()?;
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::One);
    encoder.set_compression(png::Compression::High);
    let mut writer = encoder.write_header().ok()?;
    writer.write_image_data(&pixels).ok()?;
    writer.finish().ok()?;
    Some(out)
}

/// `png` as a `data:image/png;base64,…` URL.
pub fn data_url(text: &str) -> Option<String> {
    let png = png(text)?;
    Some(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_monero_uri_makes_a_small_png() {
        let uri = format!("monero:{}", "8".repeat(95));
        let png = png(&uri).unwrap();
        assert_eq!(&png[1..4], b"PNG");
        // The spec's budget for a QR code.
        assert!(png.len() <= 2048, "{} bytes", png.len());
        assert!(
            data_url(&uri)
                .unwrap()
                .starts_with("data:image/png;base64,iVBOR")
        );
    }
}
