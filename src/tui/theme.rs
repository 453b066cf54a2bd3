//! Console themes: TOML files of a palette and named styles, each inheriting from the
//! built-in default. `NO_COLOR` gives a monochrome theme that keeps meaning in words,
//! symbols and modifiers.

use std::collections::BTreeMap;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};
use serde::Deserialize;

/// The themes built into the binary, by name.
pub const BUILT_IN: [(&str, &str); 4] = [
    ("default", include_str!("../../themes/default.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("nord", include_str!("../../themes/nord.toml")),
];

/// Every style a theme sets.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// Plain text.
    pub text: Style,
    /// Secondary text: times, hints, disabled things.
    pub muted: Style,
    /// Pane borders.
    pub border: Style,
    /// The focused pane's border.
    pub border_focused: Style,
    /// Pane titles.
    pub title: Style,
    /// The selected row.
    pub selection: Style,
    /// Table headers.
    pub header: Style,
    /// The status bar.
    pub statusbar: Style,
    /// Key names in the footer and help.
    pub keyhint: Style,
    /// Delivered, matched.
    pub ok: Style,
    /// Retrying, warnings.
    pub warn: Style,
    /// Failed, errors.
    pub bad: Style,
    /// Information.
    pub info: Style,
    /// A drift report with drift.
    pub drifted: Style,
    /// A drift report without drift.
    pub clean: Style,
    /// The matched span of a regex.
    pub matched: Style,
    /// JSON object keys.
    pub json_key: Style,
    /// JSON strings.
    pub json_string: Style,
    /// JSON numbers.
    pub json_number: Style,
    /// JSON true/false/null.
    pub json_literal: Style,
    /// False when the theme uses no colour (`NO_COLOR`).
    pub color: bool,
}

const KEYS: [&str; 20] = [
    "text",
    "muted",
    "border",
    "border_focused",
    "title",
    "selection",
    "header",
    "statusbar",
    "keyhint",
    "ok",
    "warn",
    "bad",
    "info",
    "drifted",
    "clean",
    "matched",
    "json_key",
    "json_string",
    "json_number",
    "json_literal",
];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[allow(dead_code)]
    name: Option<String>,
    inherits: Option<String>,
    #[serde(default)]
    palette: BTreeMap<String, String>,
    #[serde(default)]
    styles: BTreeMap<String, Spec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum Spec {
    Color(String),
    Full(Full),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Full {
    fg: Option<String>,
    bg: Option<String>,
    #[serde(default)]
    modifiers: Vec<String>,
}

/// Why a theme cannot be used; the message names the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("theme {source_name}: {message}")]
pub struct ThemeError {
    /// The theme name or file.
    pub source_name: String,
    /// What is wrong, naming the key.
    pub message: String,
}

impl Theme {
    /// Loads a built-in theme by name, or a theme file by path.
    ///
    /// # Errors
    /// An unknown name, an unreadable file, or a bad key or colour (named).
    pub fn load(name_or_path: &str) -> Result<Self, ThemeError> {
        let text = match BUILT_IN.iter().find(|(n, _)| *n == name_or_path) {
            Some((_, t)) => (*t).to_string(),
            None => std::fs::read_to_string(name_or_path).map_err(|e| ThemeError {
                source_name: name_or_path.to_string(),
                message: format!(
                    "not a built-in theme ({}) and not a readable file: {e}",
                    BUILT_IN
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?,
        };
        Self::parse(name_or_path, &text)
    }

    /// Parses theme text; `name` is used in messages.
    ///
    /// # Errors
    /// A TOML error (with its line), an unknown key, or a colour that does not parse.
    pub fn parse(name: &str, text: &str) -> Result<Self, ThemeError> {
        let err = |message: String| ThemeError {
            source_name: name.to_string(),
            message,
        };
        let file: File =
            toml::from_str(text).map_err(|e| err(e.to_string().trim().replace('\n', " ")))?;
        // The chain: the default first, then the file's own values over it.
        let mut palette = BTreeMap::new();
        let mut styles = BTreeMap::new();
        let parent = file.inherits.as_deref().unwrap_or("default");
        if name != "default" && parent != name {
            let base_text = BUILT_IN
                .iter()
                .find(|(n, _)| *n == parent)
                .map(|(_, t)| *t)
                .ok_or_else(|| err(format!("inherits: no built-in theme named {parent:?}")))?;
            let base: File = toml::from_str(base_text).map_err(|e| err(e.to_string()))?;
            palette.extend(base.palette);
            styles.extend(base.styles);
        }
        for key in file.palette.keys() {
            if Color::from_str(key).is_ok() {
                return Err(err(format!(
                    "palette.{key}: a palette name must not be a colour name"
                )));
            }
        }
        // A palette colour is checked where it is defined: checked where it is used, a
        // bad `palette.accent` was blamed on the first style using it, often one the file
        // never mentions (inherited from the parent theme).
        for (key, value) in &file.palette {
            if Color::from_str(value).is_err() {
                return Err(err(format!("palette.{key}: unknown colour {value:?}")));
            }
        }
        palette.extend(file.palette);
        for key in file.styles.keys() {
            if !KEYS.contains(&key.as_str()) {
                return Err(err(format!(
                    "styles.{key}: unknown style (known: {})",
                    KEYS.join(", ")
                )));
            }
        }
        styles.extend(file.styles);
        let color = |key: &str, c: &str| -> Result<Color, ThemeError> {
            let resolved = palette.get(c).map_or(c, String::as_str);
            Color::from_str(resolved).map_err(|_| {
                err(format!(
                    "{key}: unknown colour {c:?} (a colour name, #rrggbb, an index 0-255, or a [palette] name)"
                ))
            })
        };
        let mut built: BTreeMap<&str, Style> = BTreeMap::new();
        for key in KEYS {
            let spec = styles
                .get(key)
                .ok_or_else(|| err(format!("styles.{key}: missing")))?;
            let style = match spec {
                Spec::Color(c) => Style::new().fg(color(&format!("styles.{key}"), c)?),
                Spec::Full(f) => {
                    let mut s = Style::new();
                    if let Some(c) = &f.fg {
                        s = s.fg(color(&format!("styles.{key}.fg"), c)?);
                    }
                    if let Some(c) = &f.bg {
                        s = s.bg(color(&format!("styles.{key}.bg"), c)?);
                    }
                    for m in &f.modifiers {
                        s =
                            s.add_modifier(modifier(m).ok_or_else(|| {
                                err(format!("styles.{key}: unknown modifier {m:?}"))
                            })?);
                    }
                    s
                }
            };
            built.insert(key, style);
        }
        let get = |k: &str| built.get(k).copied().unwrap_or_default();
        Ok(Self {
            text: get("text"),
            muted: get("muted"),
            border: get("border"),
            border_focused: get("border_focused"),
            title: get("title"),
            selection: get("selection"),
            header: get("header"),
            statusbar: get("statusbar"),
            keyhint: get("keyhint"),
            ok: get("ok"),
            warn: get("warn"),
            bad: get("bad"),
            info: get("info"),
            drifted: get("drifted"),
            clean: get("clean"),
            matched: get("matched"),
            json_key: get("json_key"),
            json_string: get("json_string"),
            json_number: get("json_number"),
            json_literal: get("json_literal"),
            color: true,
        })
    }

    /// No colour at all: meaning is carried by modifiers, words and symbols.
    pub fn mono() -> Self {
        let plain = Style::new();
        let bold = Style::new().add_modifier(Modifier::BOLD);
        Self {
            text: plain,
            muted: Style::new().add_modifier(Modifier::DIM),
            border: plain,
            border_focused: bold,
            title: bold,
            selection: Style::new().add_modifier(Modifier::REVERSED),
            header: Style::new().add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            statusbar: Style::new().add_modifier(Modifier::REVERSED),
            keyhint: bold,
            ok: plain,
            warn: bold,
            bad: bold,
            info: plain,
            drifted: bold,
            clean: plain,
            matched: Style::new().add_modifier(Modifier::REVERSED | Modifier::UNDERLINED),
            json_key: bold,
            json_string: plain,
            json_number: plain,
            json_literal: plain,
            color: false,
        }
    }
}

fn modifier(name: &str) -> Option<Modifier> {
    Some(match name {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underlined" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        "crossed_out" => Modifier::CROSSED_OUT,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_theme_loads() {
        for (name, _) in BUILT_IN {
            let t = Theme::load(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(t.color);
        }
        assert_ne!(
            Theme::load("light").expect("light").text,
            Theme::load("default").expect("default").text
        );
    }

    /// WCAG 2 contrast ratio of two colours given as RGB (named colours as their nominal
    /// values).
    fn contrast(a: Color, b: Color) -> f64 {
        fn rgb(c: Color) -> (u8, u8, u8) {
            match c {
                Color::Rgb(r, g, b) => (r, g, b),
                Color::Black => (0, 0, 0),
                Color::White => (255, 255, 255),
                other => panic!("no nominal RGB for {other:?}"),
            }
        }
        fn lum(c: Color) -> f64 {
            let (r, g, b) = rgb(c);
            let f = |v: u8| {
                let c = f64::from(v) / 255.0;
                if c <= 0.039_28 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b)
        }
        let (x, y) = (lum(a), lum(b));
        (x.max(y) + 0.05) / (x.min(y) + 0.05)
    }

    /// The selected row is read all the time: its text meets WCAG AA (4.5:1) in every
    /// theme, AAA (7:1) in high-contrast. (The light theme's was 4.34:1.)
    #[test]
    fn selected_rows_are_readable_in_every_theme() {
        for (name, _) in BUILT_IN {
            let t = Theme::load(name).expect("loads");
            let (fg, bg) = (t.selection.fg.expect("fg"), t.selection.bg.expect("bg"));
            let ratio = contrast(fg, bg);
            let need = if name == "high-contrast" { 7.0 } else { 4.5 };
            assert!(
                ratio >= need,
                "{name}: selection contrast {ratio:.2}:1 < {need}:1"
            );
        }
    }

    #[test]
    fn errors_name_the_key() {
        let e = Theme::parse("x.toml", "[styles]\ntext = \"blu\"\n").expect_err("bad colour");
        assert!(
            e.to_string()
                .starts_with("theme x.toml: styles.text: unknown colour \"blu\""),
            "{e}"
        );
        // A bad palette colour is blamed on the palette entry, not on the first (inherited)
        // style that uses it.
        let e = Theme::parse(
            "x.toml",
            "inherits = \"nord\"\n[palette]\naccent = \"blu\"\n",
        )
        .expect_err("bad palette colour");
        assert_eq!(
            e.to_string(),
            "theme x.toml: palette.accent: unknown colour \"blu\""
        );
        let e = Theme::parse(
            "x.toml",
            "[styles]\nok = { fg = \"red\", bg = \"grene\" }\n",
        )
        .expect_err("bad bg");
        assert!(
            e.to_string()
                .contains("styles.ok.bg: unknown colour \"grene\""),
            "{e}"
        );
        let e = Theme::parse("x.toml", "[styles]\ntxt = \"red\"\n").expect_err("bad key");
        assert!(
            e.to_string()
                .starts_with("theme x.toml: styles.txt: unknown style"),
            "{e}"
        );
        let e = Theme::parse(
            "x.toml",
            "[styles]\nok = { fg = \"red\", modifiers = [\"blink-fast\"] }\n",
        )
        .expect_err("bad modifier");
        assert!(e.to_string().contains("styles.ok: unknown modifier"), "{e}");
        let e = Theme::parse("x.toml", "[palette]\nred = \"#ff0000\"\n").expect_err("shadowing");
        assert!(e.to_string().contains("palette.red"), "{e}");
        let e = Theme::parse("x.toml", "[styles\n").expect_err("toml");
        assert!(e.to_string().contains("line 1"), "{e}");
        assert!(Theme::load("no-such-theme").is_err());
    }
}
