//! CMSL `list<T>`, `map<K,V>` and arrays (`T a[N]`, `new T[n]`): shared references
//! to growable or fixed-size storage, as in Java (`l->add(x)` reads like a pointer).
//!
//! Assigning or passing a list, map or array within one process shares it: every
//! copy of the reference sees the same elements. Passing one to or from a server
//! copies it deeply, like any value (see [`super::value`]). They are never `null`:
//! their default is a new, empty one. Indexes are `int`; an index out of range, a
//! negative size and a missing map key are `program_error`s.

use super::failure::{Failure, Res};
use super::show::{Printer, Show};
use super::value::VisitGuard;
use serde::de::DeserializeOwned;
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;

fn index_error(index: i64, size: usize) -> Failure {
    Failure::program_error(format!("index {index} out of range for size {size}"))
}

fn checked_index(index: i64, size: usize) -> Res<usize> {
    usize::try_from(index)
        .ok()
        .filter(|i| *i < size)
        .ok_or_else(|| index_error(index, size))
}

fn address<T>(rc: &Rc<T>) -> usize {
    Rc::as_ptr(rc) as *const () as usize
}

fn serialize_seq<T: Serialize, S: Serializer>(
    cell: &Rc<RefCell<Vec<T>>>,
    what: &str,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let _guard = VisitGuard::enter(address(cell), what).map_err(serde::ser::Error::custom)?;
    let items = cell
        .try_borrow()
        .map_err(|_| serde::ser::Error::custom("value is being modified"))?;
    serializer.collect_seq(items.iter())
}

fn show_seq<T: Show>(cell: &Rc<RefCell<Vec<T>>>, p: &mut Printer) {
    p.shared(address(cell), |p| match cell.try_borrow() {
        Ok(items) => p.sequence(items.iter().map(|i| i as &dyn Show)),
        Err(_) => p.text("<in use>"),
    });
}

/// `list<T>`: a growable sequence, shared by reference.
///
/// ```
/// use ftc_runtime::lang::{show, List};
/// let l: List<i64> = List::new();
/// l.add(10);                                  // l->add(10)
/// l.add(20);
/// l.set(0, 11)?;                              // l->set(0, 11)
/// assert_eq!(l.get(1)?, 20);                  // l->get(1)
/// assert_eq!(l.size(), 2);                    // l->size()
/// let alias = l.clone();                      // list<int> alias = l;
/// assert_eq!(alias.remove(0)?, 11);           // l->remove(0)
/// assert_eq!(show(&l), "[20]");
/// assert!(l.get(5).is_err());
/// # Ok::<(), ftc_runtime::lang::Failure>(())
/// ```
pub struct List<T>(Rc<RefCell<Vec<T>>>);

impl<T> List<T> {
    /// An empty list.
    pub fn new() -> List<T> {
        List::from_vec(Vec::new())
    }

    /// A list holding `items`.
    pub fn from_vec(items: Vec<T>) -> List<T> {
        List(Rc::new(RefCell::new(items)))
    }

    /// `l->add(x)`: appends.
    pub fn add(&self, item: T) {
        self.0.borrow_mut().push(item);
    }

    /// `l->set(i, x)`.
    pub fn set(&self, index: i64, item: T) -> Res<()> {
        let mut items = self.0.borrow_mut();
        let i = checked_index(index, items.len())?;
        items[i] = item;
        Ok(())
    }

    /// `l->size()`.
    pub fn size(&self) -> i64 {
        self.0.borrow().len() as i64
    }

    /// `l->remove(i)`: removes and returns the element, shifting the rest down.
    pub fn remove(&self, index: i64) -> Res<T> {
        let mut items = self.0.borrow_mut();
        let i = checked_index(index, items.len())?;
        Ok(items.remove(i))
    }

    /// `a == b` for lists: the same list.
    pub fn same(&self, other: &List<T>) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: Clone> List<T> {
    /// `l->get(i)`.
    pub fn get(&self, index: i64) -> Res<T> {
        let items = self.0.borrow();
        let i = checked_index(index, items.len())?;
        Ok(items[i].clone())
    }

    /// The elements now (for Rust code and tests).
    pub fn to_vec(&self) -> Vec<T> {
        self.0.borrow().clone()
    }
}

impl<T> Clone for List<T> {
    fn clone(&self) -> List<T> {
        List(self.0.clone())
    }
}

impl<T> Default for List<T> {
    fn default() -> List<T> {
        List::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for List<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.try_borrow() {
            Ok(items) => f.debug_list().entries(items.iter()).finish(),
            Err(_) => f.write_str("[<in use>]"),
        }
    }
}

impl<T: Show> Show for List<T> {
    fn show(&self, p: &mut Printer) {
        show_seq(&self.0, p);
    }
}

impl<T: Serialize> Serialize for List<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_seq(&self.0, "list", serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<List<T>, D::Error> {
        Vec::<T>::deserialize(deserializer).map(List::from_vec)
    }
}

/// A fixed-size array: `T a[N]` and `new T[n]`, shared by reference.
///
/// ```
/// use ftc_runtime::lang::{show, Array};
/// let a: Array<i64> = Array::new(3)?;         // int a[3];
/// a.set(2, 7)?;                               // a[2] = 7;
/// assert_eq!(a.get(2)?, 7);                   // a[2]
/// assert_eq!(a.size(), 3);                    // len(a)
/// assert_eq!(show(&a), "[0, 0, 7]");
/// assert!(a.get(3).is_err());
/// assert!(Array::<i64>::new(-1).is_err());
/// # Ok::<(), ftc_runtime::lang::Failure>(())
/// ```
pub struct Array<T>(Rc<RefCell<Vec<T>>>);

/// The largest size `new T[n]` accepts (larger sizes are a `program_error`,
/// not an allocation failure that would abort the process).
pub const MAX_ARRAY_SIZE: i64 = 1 << 26;

impl<T: Default> Array<T> {
    /// `new T[n]`: `n` default values (a negative `n`, or one above
    /// [`MAX_ARRAY_SIZE`], is a `program_error`).
    pub fn new(size: i64) -> Res<Array<T>> {
        if size > MAX_ARRAY_SIZE {
            return Err(Failure::program_error(format!(
                "array size {size} is too large (at most {MAX_ARRAY_SIZE})"
            )));
        }
        let n = usize::try_from(size)
            .map_err(|_| Failure::program_error(format!("negative array size {size}")))?;
        Ok(Array::from_vec((0..n).map(|_| T::default()).collect()))
    }
}

impl<T> Array<T> {
    /// An array holding `items`.
    pub fn from_vec(items: Vec<T>) -> Array<T> {
        Array(Rc::new(RefCell::new(items)))
    }

    /// `a[i] = x`.
    pub fn set(&self, index: i64, item: T) -> Res<()> {
        let mut items = self.0.borrow_mut();
        let i = checked_index(index, items.len())?;
        items[i] = item;
        Ok(())
    }

    /// `len(a)`.
    pub fn size(&self) -> i64 {
        self.0.borrow().len() as i64
    }

    /// `a == b` for arrays: the same array.
    pub fn same(&self, other: &Array<T>) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: Clone> Array<T> {
    /// `a[i]`.
    pub fn get(&self, index: i64) -> Res<T> {
        let items = self.0.borrow();
        let i = checked_index(index, items.len())?;
        Ok(items[i].clone())
    }

    /// The elements now (for Rust code and tests).
    pub fn to_vec(&self) -> Vec<T> {
        self.0.borrow().clone()
    }
}

impl<T> Clone for Array<T> {
    fn clone(&self) -> Array<T> {
        Array(self.0.clone())
    }
}

impl<T> Default for Array<T> {
    /// An array of size 0.
    fn default() -> Array<T> {
        Array::from_vec(Vec::new())
    }
}

impl<T: fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.try_borrow() {
            Ok(items) => f.debug_list().entries(items.iter()).finish(),
            Err(_) => f.write_str("[<in use>]"),
        }
    }
}

impl<T: Show> Show for Array<T> {
    fn show(&self, p: &mut Printer) {
        show_seq(&self.0, p);
    }
}

impl<T: Serialize> Serialize for Array<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serialize_seq(&self.0, "array", serializer)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Array<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Array<T>, D::Error> {
        Vec::<T>::deserialize(deserializer).map(Array::from_vec)
    }
}

/// `map<K,V>`: an ordered map (iteration order is key order, so deterministic),
/// shared by reference. Keys are `int`, `string`, `boolean` or `host`.
///
/// ```
/// use ftc_runtime::lang::{show, Map};
/// let m: Map<String, i64> = Map::new();
/// m.put("b".to_string(), 2);                  // m->put("b", 2)
/// m.put("a".to_string(), 1);
/// assert!(m.has(&"a".to_string()));           // m->has("a")
/// assert_eq!(m.get(&"b".to_string())?, 2);    // m->get("b")
/// assert_eq!(m.keys().to_vec(), vec!["a".to_string(), "b".to_string()]);
/// assert_eq!(show(&m), "{a: 1, b: 2}");
/// m.remove(&"a".to_string());                 // m->remove("a")
/// assert_eq!(m.size(), 1);
/// assert!(m.get(&"zz".to_string()).is_err()); // a missing key is a program_error
/// # Ok::<(), ftc_runtime::lang::Failure>(())
/// ```
pub struct Map<K, V>(Rc<RefCell<BTreeMap<K, V>>>);

impl<K: Ord, V> Map<K, V> {
    /// An empty map.
    pub fn new() -> Map<K, V> {
        Map(Rc::new(RefCell::new(BTreeMap::new())))
    }

    /// `m->put(k, v)`: inserts or replaces.
    pub fn put(&self, key: K, value: V) {
        self.0.borrow_mut().insert(key, value);
    }

    /// `m->has(k)`.
    pub fn has(&self, key: &K) -> bool {
        self.0.borrow().contains_key(key)
    }

    /// `m->remove(k)`: removes the entry if there is one.
    pub fn remove(&self, key: &K) {
        self.0.borrow_mut().remove(key);
    }

    /// `m->size()`.
    pub fn size(&self) -> i64 {
        self.0.borrow().len() as i64
    }

    /// `a == b` for maps: the same map.
    pub fn same(&self, other: &Map<K, V>) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl<K: Ord + Clone + Show, V: Clone> Map<K, V> {
    /// `m->get(k)`; a missing key is a `program_error`.
    pub fn get(&self, key: &K) -> Res<V> {
        self.0.borrow().get(key).cloned().ok_or_else(|| {
            Failure::program_error(format!("key {} not in map", super::show::show(key)))
        })
    }

    /// `m->keys()`: a new list of the keys, in order.
    pub fn keys(&self) -> List<K> {
        List::from_vec(self.0.borrow().keys().cloned().collect())
    }
}

impl<K, V> Clone for Map<K, V> {
    fn clone(&self) -> Map<K, V> {
        Map(self.0.clone())
    }
}

impl<K: Ord, V> Default for Map<K, V> {
    fn default() -> Map<K, V> {
        Map::new()
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Map<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.try_borrow() {
            Ok(m) => f.debug_map().entries(m.iter()).finish(),
            Err(_) => f.write_str("{<in use>}"),
        }
    }
}

impl<K: Show, V: Show> Show for Map<K, V> {
    fn show(&self, p: &mut Printer) {
        p.shared(address(&self.0), |p| match self.0.try_borrow() {
            Ok(m) => {
                p.text("{");
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        p.text(", ");
                    }
                    k.show(p);
                    p.text(": ");
                    v.show(p);
                }
                p.text("}");
            }
            Err(_) => p.text("<in use>"),
        });
    }
}

impl<K: Serialize, V: Serialize> Serialize for Map<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let _guard =
            VisitGuard::enter(address(&self.0), "map").map_err(serde::ser::Error::custom)?;
        let m = self
            .0
            .try_borrow()
            .map_err(|_| serde::ser::Error::custom("map is being modified"))?;
        let mut out = serializer.serialize_map(Some(m.len()))?;
        for (k, v) in m.iter() {
            out.serialize_entry(k, v)?;
        }
        out.end()
    }
}

impl<'de, K: DeserializeOwned + Ord, V: DeserializeOwned> Deserialize<'de> for Map<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Map<K, V>, D::Error> {
        BTreeMap::<K, V>::deserialize(deserializer).map(|m| Map(Rc::new(RefCell::new(m))))
    }
}

/// `len(x)` for strings, lists, maps and arrays.
///
/// ```
/// use ftc_runtime::lang::{len, List};
/// assert_eq!(len("héllo"), 5); // characters, not bytes
/// assert_eq!(len(&List::from_vec(vec![1i64, 2])), 2);
/// ```
pub trait Len {
    /// The number of characters or elements.
    fn cmsl_len(&self) -> i64;
}

/// `len(x)`.
pub fn len<T: Len + ?Sized>(x: &T) -> i64 {
    x.cmsl_len()
}

impl Len for str {
    fn cmsl_len(&self) -> i64 {
        self.chars().count() as i64
    }
}

impl Len for String {
    fn cmsl_len(&self) -> i64 {
        self.as_str().cmsl_len()
    }
}

impl<T> Len for List<T> {
    fn cmsl_len(&self) -> i64 {
        self.size()
    }
}

impl<T> Len for Array<T> {
    fn cmsl_len(&self) -> i64 {
        self.size()
    }
}

impl<K: Ord, V> Len for Map<K, V> {
    fn cmsl_len(&self) -> i64 {
        self.size()
    }
}
