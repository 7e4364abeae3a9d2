//! References to objects of user classes: [`Obj`], shared within one process
//! (`main` or one server), possibly `null`.

use super::failure::{Failure, Res};
use super::show::{Printer, Show};
use super::value::VisitGuard;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::{Ref, RefCell, RefMut};
use std::fmt;
use std::rc::Rc;

/// A CMSL variable of a user class `C`: a reference to a `C` object, or `null`.
/// `Clone` copies the reference (both name the same object), like assignment in
/// CMSL, C++ pointers or Java. `Default` is `null`.
///
/// Generated code reads and writes fields with [`Obj::read`] and
/// [`Obj::update`], whose borrow ends inside the call: a borrow never outlives
/// the field access, so `a->x = a->y + 1` and `p->dist(p)` work. (A `Ref` from
/// [`Obj::get`] lives to the end of the statement that made it: `a.get_mut()?.x
/// = a.get()?.y` would find the object in use.) Values are computed before an
/// `update`: `let v = …; a.update(|o| o.x = v)?;`.
///
/// ```
/// use ftc_runtime::lang::{int, FailureKind, Obj};
/// #[derive(Default)]
/// struct Item { qty: i64, name: String }
///
/// let a = Obj::new(Item::default());
/// let b = a.clone();                                // item b = a;
/// b.update(|o| o.qty = 3)?;                         // b->qty = 3;
/// assert_eq!(a.read(|o| o.qty)?, 3);                // a->qty
/// let v = int::add(a.read(|o| o.qty)?, 1)?;         // a->qty = a->qty + 1;
/// a.update(|o| o.qty = v)?;
/// assert_eq!(b.read(|o| o.name.clone())?, "");      // b->name
/// assert!(a.same(&b));                              // a == b
///
/// let n: Obj<Item> = Obj::null();
/// assert!(matches!(n.read(|o| o.qty), Err(f) if f.is(FailureKind::ProgramError)));
/// # Ok::<(), ftc_runtime::lang::Failure>(())
/// ```
pub struct Obj<T>(Option<Rc<RefCell<T>>>);

impl<T> Obj<T> {
    /// `new C`: a new object.
    pub fn new(value: T) -> Obj<T> {
        Obj(Some(Rc::new(RefCell::new(value))))
    }

    /// `null`.
    pub fn null() -> Obj<T> {
        Obj(None)
    }

    /// `x == null`.
    pub fn is_null(&self) -> bool {
        self.0.is_none()
    }

    /// `a == b` for references: both null, or the same object.
    pub fn same(&self, other: &Obj<T>) -> bool {
        match (&self.0, &other.0) {
            (None, None) => true,
            (Some(a), Some(b)) => Rc::ptr_eq(a, b),
            _ => false,
        }
    }

    fn cell(&self) -> Res<&RefCell<T>> {
        self.0
            .as_deref()
            .ok_or_else(|| Failure::program_error("null dereference"))
    }

    /// `x->field`: applies `f` to the object and returns its result (clone
    /// fields that are not `Copy`); `null` is a `program_error`.
    pub fn read<R>(&self, f: impl FnOnce(&T) -> R) -> Res<R> {
        let object = self.get()?;
        Ok(f(&object))
    }

    /// `x->field = v`: applies `f` to the object mutably; `null` is a `program_error`.
    pub fn update<R>(&self, f: impl FnOnce(&mut T) -> R) -> Res<R> {
        let mut object = self.get_mut()?;
        Ok(f(&mut object))
    }

    /// Borrows the object for reading; `null` is a `program_error`. The borrow
    /// lasts as long as the `Ref` (see the type's documentation).
    pub fn get(&self) -> Res<Ref<'_, T>> {
        self.cell()?
            .try_borrow()
            .map_err(|_| Failure::program_error("object is being modified"))
    }

    /// Borrows the object for writing; `null` is a `program_error`.
    pub fn get_mut(&self) -> Res<RefMut<'_, T>> {
        self.cell()?
            .try_borrow_mut()
            .map_err(|_| Failure::program_error("object is in use"))
    }

    pub(crate) fn address(&self) -> Option<usize> {
        self.0
            .as_ref()
            .map(|rc| Rc::as_ptr(rc) as *const () as usize)
    }
}

impl<T> Clone for Obj<T> {
    fn clone(&self) -> Obj<T> {
        Obj(self.0.clone())
    }
}

impl<T> Default for Obj<T> {
    fn default() -> Obj<T> {
        Obj::null()
    }
}

thread_local! {
    /// Objects being formatted with `Debug` on this thread (a cycle prints `Obj(...)`).
    static DEBUGGING: std::cell::RefCell<std::collections::HashSet<usize>> =
        std::cell::RefCell::new(std::collections::HashSet::new());
}

impl<T: fmt::Debug> fmt::Debug for Obj<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (Some(rc), Some(address)) = (&self.0, self.address()) else {
            return f.write_str("null");
        };
        let entered = DEBUGGING.with(|d| d.borrow_mut().insert(address));
        if !entered {
            return f.write_str("Obj(...)");
        }
        let result = match rc.try_borrow() {
            Ok(v) => write!(f, "Obj({v:?})"),
            Err(_) => f.write_str("Obj(<in use>)"),
        };
        DEBUGGING.with(|d| d.borrow_mut().remove(&address));
        result
    }
}

impl<T: Show> Show for Obj<T> {
    fn show(&self, p: &mut Printer) {
        match (&self.0, self.address()) {
            (Some(rc), Some(address)) => p.shared(address, |p| match rc.try_borrow() {
                Ok(v) => v.show(p),
                Err(_) => p.text("<in use>"),
            }),
            _ => p.text("null"),
        }
    }
}

/// Serialized as an optional value: a deep copy (see [`super::value`]).
impl<T: Serialize> Serialize for Obj<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match (&self.0, self.address()) {
            (Some(rc), Some(address)) => {
                let _guard =
                    VisitGuard::enter(address, "object").map_err(serde::ser::Error::custom)?;
                let value = rc
                    .try_borrow()
                    .map_err(|_| serde::ser::Error::custom("object is being modified"))?;
                serializer.serialize_some(&*value)
            }
            _ => serializer.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Obj<T>, D::Error> {
        Ok(match Option::<T>::deserialize(deserializer)? {
            Some(v) => Obj::new(v),
            None => Obj::null(),
        })
    }
}
