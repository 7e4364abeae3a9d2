//! How CMSL values print (`print`, `println`, `to_string`, `+` on strings): the
//! [`Show`] trait and its [`Printer`].
//!
//! | value | prints as |
//! |---|---|
//! | `int` | `42`, `-7` |
//! | `real` | Rust's `{:?}` of `f64`: `19.0`, `0.25`, `1e-7`, `NaN`, `inf` |
//! | `boolean` | `true` / `false` |
//! | `string` | its text (no quotes, also inside containers) |
//! | object | `classname{field: value, …}`; `null` when null |
//! | `list`, array | `[1, 2, 3]` |
//! | `map` | `{k: v, k2: v2}` in key order |
//! | `host` | its name, `h2` |
//! | server handle | `counter#5` (class and server number); `null` when null |
//! | future | `future(pending)`, `future(ready)`; `null` when null |
//! | exception | `kind: message` |
//!
//! A value met again while it is being printed (a cycle) prints as `...`.

use super::failure::Failure;
use std::collections::HashSet;

/// A CMSL value that can be printed. Generated classes implement it with
/// [`Printer::object`].
///
/// ```
/// use ftc_runtime::lang::{show, Printer, Show};
/// struct Point { x: f64, y: f64 }
/// impl Show for Point {
///     fn show(&self, p: &mut Printer) {
///         p.object("point", &[("x", &self.x), ("y", &self.y)]);
///     }
/// }
/// assert_eq!(show(&Point { x: 1.0, y: 0.5 }), "point{x: 1.0, y: 0.5}");
/// ```
pub trait Show {
    /// Appends the value's text to the printer.
    fn show(&self, p: &mut Printer);
}

/// Collects printed text and tracks the shared values being printed (for cycles).
#[derive(Default)]
pub struct Printer {
    out: String,
    on_path: HashSet<usize>,
}

impl Printer {
    /// An empty printer.
    pub fn new() -> Printer {
        Printer::default()
    }

    /// Appends raw text.
    pub fn text(&mut self, text: &str) {
        self.out.push_str(text);
    }

    /// Prints `classname{field: value, …}`.
    pub fn object(&mut self, class: &str, fields: &[(&str, &dyn Show)]) {
        self.out.push_str(class);
        self.out.push('{');
        for (i, (name, value)) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            self.out.push_str(name);
            self.out.push_str(": ");
            value.show(self);
        }
        self.out.push('}');
    }

    /// Prints a shared value at `address` with `body`, or `...` if it is already
    /// being printed further up (a cycle) or nesting exceeds the copy limit.
    pub fn shared(&mut self, address: usize, body: impl FnOnce(&mut Printer)) {
        if self.on_path.contains(&address) || self.on_path.len() >= super::value::MAX_DEPTH {
            self.out.push_str("...");
            return;
        }
        self.on_path.insert(address);
        body(self);
        self.on_path.remove(&address);
    }

    /// Prints a sequence as `[a, b, c]`.
    pub fn sequence<'a>(&mut self, items: impl IntoIterator<Item = &'a dyn Show>) {
        self.out.push('[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.out.push_str(", ");
            }
            item.show(self);
        }
        self.out.push(']');
    }

    /// The text printed so far.
    pub fn finish(self) -> String {
        self.out
    }
}

/// The text of one value, as `print` writes it (CMSL's `to_string`).
///
/// ```
/// use ftc_runtime::lang::show;
/// assert_eq!(show(&19.0), "19.0");
/// assert_eq!(show(&0.25), "0.25");
/// assert_eq!(show(&true), "true");
/// assert_eq!(show(&-3i64), "-3");
/// ```
pub fn show(value: &dyn Show) -> String {
    let mut p = Printer::new();
    value.show(&mut p);
    p.finish()
}

/// The text of several values one after another, with no separator (what
/// `print(a, b, c)` writes, and string `+`).
///
/// ```
/// use ftc_runtime::lang::show_all;
/// assert_eq!(show_all(&[&"total: ", &7i64, &" ", &1.5]), "total: 7 1.5");
/// ```
pub fn show_all(values: &[&dyn Show]) -> String {
    let mut p = Printer::new();
    for v in values {
        v.show(&mut p);
    }
    p.finish()
}

impl Show for i64 {
    fn show(&self, p: &mut Printer) {
        p.text(&self.to_string());
    }
}

impl Show for f64 {
    fn show(&self, p: &mut Printer) {
        p.text(&format!("{self:?}"));
    }
}

impl Show for bool {
    fn show(&self, p: &mut Printer) {
        p.text(if *self { "true" } else { "false" });
    }
}

impl Show for String {
    fn show(&self, p: &mut Printer) {
        p.text(self);
    }
}

impl Show for str {
    fn show(&self, p: &mut Printer) {
        p.text(self);
    }
}

impl Show for &str {
    fn show(&self, p: &mut Printer) {
        p.text(self);
    }
}

impl Show for () {
    fn show(&self, p: &mut Printer) {
        p.text("void");
    }
}

impl Show for Failure {
    fn show(&self, p: &mut Printer) {
        p.text(&self.to_string());
    }
}
