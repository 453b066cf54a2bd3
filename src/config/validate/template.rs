//! `template:` and `template-file:` of a webhook entry: compiled at load, a syntax error
//! located inside the template (in the config's block, or in the template file).

use super::{Config, Ctx, Diagnostic, Field, Location, Pos};

impl Ctx<'_> {
    /// `template:` (inline) or `template-file:` (beside the config), compiled; a syntax
    /// error points into the template, in the config or in the file.
    pub(super) fn template<'a>(
        &mut self,
        get: &dyn Fn(&str) -> Option<Field<'a>>,
        config: &Config,
        ok: &mut bool,
    ) -> Option<crate::notify::template::Template> {
        use crate::notify::template::Template;
        let (inline, file) = (get("template"), get("template-file"));
        let (text, place) = match (inline, file) {
            (Some(_), Some(f)) => {
                self.error(
                    f.key_pos,
                    "give \"template\" or \"template-file\", not both",
                );
                *ok = false;
                return None;
            }
            (None, None) => return None,
            (Some(f), None) => (self.string(f, "template")?, Err(f)),
            (None, Some(f)) => {
                let name = self.string(f, "template-file")?;
                let path = config
                    .path
                    .as_ref()
                    .and_then(|p| p.parent())
                    .map_or_else(|| std::path::PathBuf::from(&name), |d| d.join(&name));
                match std::fs::read_to_string(&path) {
                    Ok(t) => (t, Ok(path.display().to_string())),
                    Err(e) => {
                        self.error(
                            f.pos,
                            format!("cannot read template-file {}: {e}", path.display()),
                        );
                        *ok = false;
                        return None;
                    }
                }
            }
        };
        match Template::compile(&text) {
            Ok(t) => Some(t),
            Err(e) => {
                let line = e.line.unwrap_or(1);
                let col = e.col.unwrap_or(1);
                let location = match place {
                    Ok(file) => Location::Other(file, Pos { line, col }),
                    // A block scalar (`template: |`) starts on the line after its key.
                    Err(f) => {
                        let block = f.pos.line > f.key_pos.line
                            || f.node.is_some_and(|n| n.pos().line > f.key_pos.line);
                        let first = if block {
                            f.key_pos.line + 1
                        } else {
                            f.pos.line
                        };
                        let col0 = if block { f.key_pos.col + 2 } else { f.pos.col };
                        let at = Pos {
                            line: first + line - 1,
                            col: col0 + col - 1,
                        };
                        self.at(at)
                    }
                };
                self.report.push(Diagnostic::error(
                    location,
                    format!("template: {}", e.message),
                ));
                *ok = false;
                None
            }
        }
    }
}
