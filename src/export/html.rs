//! The HTML writer of tables, for the board report: the same columns and
//! formats as the terminal, every text escaped.

use super::{Table, Unit};

/// Text made safe inside HTML (and SVG) markup.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push_str(&format!("&#x{:x};", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// A table as HTML; `total` marks the last row as a total.
pub fn table(t: &Table, total: bool) -> String {
    let cells = super::text::cells(t);
    let mut h = String::from("<div class=\"scroll\"><table>\n<thead><tr>");
    for c in &t.columns {
        h.push_str(&format!("<th>{}</th>", escape(&c.header)));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    let n = cells.len();
    for (i, r) in cells.iter().enumerate() {
        if total && i + 1 == n {
            h.push_str("<tr class=\"total\">");
        } else {
            h.push_str("<tr>");
        }
        for (j, c) in r.iter().enumerate() {
            let text = if c == "-" { "–" } else { c.as_str() };
            if j == 0 && t.columns[0].unit == Unit::Text {
                h.push_str(&format!("<td class=\"name\">{}</td>", escape(text)));
            } else {
                h.push_str(&format!("<td>{}</td>", escape(text)));
            }
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table></div>\n");
    h
}
