//! Server classes and server handles: the [`ServerClass`] trait generated server
//! classes implement, the [`Server`] handle (`server C …`, calls, `invoke`) and
//! the [`Props`] of a `server` expression.

use super::context;
use super::future::Future;
use crate::lang::{decode, encode, Array, Encoded, Failure, Printer, Res, Show};
use crate::types::{GroupId, Model, ServerSpec};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::marker::PhantomData;

/// A CMSL `server class`, as generated code implements it: the state is the
/// struct's fields, one [`ServerClass::Command`] variant per public method.
///
/// The object lives on its own thread in every replica (see
/// [`super::executor`]); it never crosses threads, so it may hold [`crate::lang::Obj`]s.
///
/// ```
/// use ftc_runtime::lang::{encode, Encoded, Res};
/// use ftc_runtime::program::ServerClass;
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Default, Serialize, Deserialize)]
/// struct Counter { total: i64 }
///
/// #[derive(Serialize, Deserialize)]
/// enum CounterCommand { Add { by: i64 }, Total {} }
///
/// impl Counter {
///     fn add(&mut self, by: i64) -> Res<i64> {
///         self.total = ftc_runtime::lang::int::add(self.total, by)?;
///         Ok(self.total)
///     }
/// }
///
/// impl ServerClass for Counter {
///     const NAME: &'static str = "counter";
///     type Command = CounterCommand;
///     fn construct() -> Res<Counter> {
///         Ok(Counter::default())
///     }
///     fn dispatch(&mut self, command: CounterCommand) -> Res<Encoded> {
///         match command {
///             CounterCommand::Add { by } => encode(&self.add(by)?),
///             CounterCommand::Total {} => encode(&self.total),
///         }
///     }
/// }
/// ```
pub trait ServerClass: Serialize + DeserializeOwned + 'static {
    /// The CMSL class name (what `server C` names, and what the kernels' factory knows).
    const NAME: &'static str;
    /// One variant per public method, its fields the method's parameters in order.
    type Command: Serialize + DeserializeOwned + 'static;
    /// A new server object: default values and state-variable initializers. Runs
    /// once per replica when the server starts (the invariant is checked after it).
    fn construct() -> Res<Self>;
    /// Runs one command (method) and encodes its result with [`encode`]. A
    /// method's `requires` is checked by the method itself, at its start.
    fn dispatch(&mut self, command: Self::Command) -> Res<Encoded>;
    /// The class `invariant`s, checked after construction and after every method
    /// that returned normally. A failure reaches the caller as `assertion_failure`.
    fn invariant(&self) -> Res<()> {
        Ok(())
    }
}

/// A server class with a typed client: one method per command, each an
/// exactly-once call (`c.client().add(2)` instead of
/// `c.call::<i64>(CounterCommand::Add { by: 2 })`). `ftc_shell::emit`
/// implements it for the server classes of both front ends, CMSL and
/// `#[ftc_runtime::server]`.
pub trait TypedServer: Sized {
    /// The typed client (`CounterClient` for `Counter`).
    type Client: From<Server<Self>>;
}

/// A server handle (a CMSL variable of a server class `C`): names a server, or
/// is `null`. Every copy names the same server; passing it to or from a server
/// passes the name. `Default` is `null`.
///
/// ```no_run
/// # use ftc_runtime::lang::{encode, Encoded, Res};
/// # use ftc_runtime::program::{Future, Props, Server, ServerClass};
/// # use ftc_runtime::types::Model;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Default, Serialize, Deserialize)] struct Counter { total: i64 }
/// # #[derive(Serialize, Deserialize)] enum CounterCommand { Add { by: i64 } }
/// # impl ServerClass for Counter {
/// #     const NAME: &'static str = "counter";
/// #     type Command = CounterCommand;
/// #     fn construct() -> Res<Counter> { Ok(Counter::default()) }
/// #     fn dispatch(&mut self, c: CounterCommand) -> Res<Encoded> {
/// #         match c { CounterCommand::Add { by } => { self.total += by; encode(&self.total) } }
/// #     }
/// # }
/// # fn main_body() -> Res<()> {
/// // counter c = server counter model crash tolerate (1);
/// let c: Server<Counter> = Server::start(&Props::new().model(Model::Crash).tolerate(1))?;
/// // int t = c->add(5);
/// let t: i64 = c.call(CounterCommand::Add { by: 5 })?;
/// // future f = invoke c->add(1);
/// let f: Future<i64> = c.invoke(CounterCommand::Add { by: 1 })?;
/// # Ok(()) }
/// ```
pub struct Server<C> {
    group: Option<GroupId>,
    class: PhantomData<fn() -> C>,
}

impl<C> Server<C> {
    /// `null`.
    pub fn null() -> Server<C> {
        Server {
            group: None,
            class: PhantomData,
        }
    }

    /// The handle of the server group `group`.
    pub fn from_group(group: GroupId) -> Server<C> {
        Server {
            group: Some(group),
            class: PhantomData,
        }
    }

    /// `s == null`.
    pub fn is_null(&self) -> bool {
        self.group.is_none()
    }

    /// The server's group, if not null.
    pub fn group(&self) -> Option<GroupId> {
        self.group
    }

    /// The same server named through a handle of another class of its
    /// inheritance tree: references of every class of a tree share the
    /// root's handle type, and a call through the handle of class `D` sends
    /// `D`'s commands, which every subclass of `D` answers alike (its command
    /// enum starts with `D`'s).
    pub fn cast<D>(self) -> Server<D> {
        Server {
            group: self.group,
            class: PhantomData,
        }
    }

    /// `this` as a value inside a server method: the handle of the server
    /// whose method is running (its whole group).
    pub fn this() -> Res<Server<C>> {
        context::own_group().map(Server::from_group)
    }

    fn target(&self) -> Res<GroupId> {
        self.group
            .ok_or_else(|| Failure::program_error("null dereference (server handle)"))
    }
}

impl<C: TypedServer> Server<C> {
    /// The typed client of this server: its methods are the class's commands.
    pub fn client(self) -> C::Client {
        C::Client::from(self)
    }
}

impl<C: ServerClass> Server<C> {
    /// `server C props…`: starts one server and returns when every replica runs.
    /// Too few hosts (or any other reason the cluster cannot start it) raise
    /// `server_failure` with the reason.
    pub fn start(props: &Props) -> Res<Server<C>> {
        Server::<C>::start_as(props)
    }

    /// [`Server::start`] of class `C`, the handle typed as `H`, the root of
    /// `C`'s inheritance tree (see [`Server::cast`]).
    pub fn start_as<H>(props: &Props) -> Res<Server<H>> {
        let spec = props.spec(C::NAME, None)?;
        context::start_server(spec).map(Server::from_group)
    }

    /// `server C [n] props…`: starts `n` servers, one after another; with
    /// `disjoint` they use pairwise disjoint host sets where the cluster allows
    /// it; with `durable ("name")` element `i` is the durable server `name[i]`.
    pub fn start_array(size: i64, props: &Props) -> Res<Array<Server<C>>> {
        Server::<C>::start_array_as(size, props)
    }

    /// [`Server::start_array`] of class `C`, the handles typed as `H`, the
    /// root of `C`'s inheritance tree.
    pub fn start_array_as<H>(size: i64, props: &Props) -> Res<Array<Server<H>>> {
        let n = usize::try_from(size)
            .map_err(|_| Failure::program_error(format!("negative server array size {size}")))?;
        let key = if props.disjoint {
            Some(context::fresh_key()?)
        } else {
            None
        };
        let spec = props.spec(C::NAME, key)?;
        let mut servers = Vec::with_capacity(n);
        for index in 0..n {
            let mut spec = spec.clone();
            // `durable ("name")` on an array names its elements `name[i]`.
            if let Some(name) = &props.durable {
                spec.durable = Some(format!("{name}[{index}]"));
            }
            servers.push(Server::from_group(context::start_server(spec)?));
        }
        Ok(Array::from_vec(servers))
    }

    /// `s->m(args)`: calls a method and waits for its result. An exception the
    /// method raised is raised here; `server_failure` if the server cannot answer.
    pub fn call<R: DeserializeOwned>(&self, command: C::Command) -> Res<R> {
        let payload = encode(&command)?;
        let value = context::call(self.target()?, payload)?;
        decode(&value)
    }

    /// `invoke s->m(args)`: sends the call and returns its future at once.
    pub fn invoke<R: DeserializeOwned>(&self, command: C::Command) -> Res<Future<R>> {
        let payload = encode(&command)?;
        let pending = context::invoke(self.target()?, payload)?;
        Ok(Future::pending(pending))
    }
}

impl<C> Clone for Server<C> {
    fn clone(&self) -> Server<C> {
        *self
    }
}

impl<C> Copy for Server<C> {}

impl<C> Default for Server<C> {
    fn default() -> Server<C> {
        Server::null()
    }
}

impl<C> PartialEq for Server<C> {
    /// The same server (or both null).
    fn eq(&self, other: &Server<C>) -> bool {
        self.group == other.group
    }
}

impl<C> Eq for Server<C> {}

impl<C> fmt::Debug for Server<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.group {
            Some(g) => write!(f, "Server({})", g.0),
            None => f.write_str("Server(null)"),
        }
    }
}

impl<C: ServerClass> Show for Server<C> {
    /// `counter#5`, or `null`.
    fn show(&self, p: &mut Printer) {
        match self.group {
            Some(g) => p.text(&format!("{}#{}", C::NAME, g.0)),
            None => p.text("null"),
        }
    }
}

impl<C> Serialize for Server<C> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.group.serialize(serializer)
    }
}

impl<'de, C> Deserialize<'de> for Server<C> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Server<C>, D::Error> {
        Option::<GroupId>::deserialize(deserializer).map(|group| Server {
            group,
            class: PhantomData,
        })
    }
}

/// The properties of a `server` expression, with CMSL's defaults: `model
/// correct`, `tolerate (0)`, `replicas (1)`, no preferred hosts, not `disjoint`,
/// `priority (0)`. Values are checked when the server starts (negative
/// tolerance, zero replicas and `model correct` with `tolerate (t > 0)` are
/// `program_error`s).
///
/// ```
/// use ftc_runtime::lang::Host;
/// use ftc_runtime::program::Props;
/// use ftc_runtime::types::{HostId, Model};
/// // server db model crash tolerate (1) hosts (h1, h2) priority (5)
/// let p = Props::new()
///     .model(Model::Crash)
///     .tolerate(1)
///     .hosts(vec![Host(HostId(1)), Host(HostId(2))])
///     .priority(5);
/// assert_eq!(p.tolerate, 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Props {
    /// `model correct | crash | byzantine`.
    pub model: Model,
    /// `tolerate (t)`.
    pub tolerate: i64,
    /// `replicas (r)`.
    pub replicas: i64,
    /// `hosts (h, …)`, earlier preferred.
    pub hosts: Vec<crate::lang::Host>,
    /// `disjoint` (server arrays).
    pub disjoint: bool,
    /// `priority (p)`.
    pub priority: i64,
    /// `durable ("name")`.
    pub durable: Option<String>,
}

impl Default for Props {
    fn default() -> Props {
        Props {
            model: Model::Correct,
            tolerate: 0,
            replicas: 1,
            hosts: Vec::new(),
            disjoint: false,
            priority: 0,
            durable: None,
        }
    }
}

impl Props {
    /// The defaults.
    pub fn new() -> Props {
        Props::default()
    }

    /// `model m`.
    pub fn model(mut self, model: Model) -> Props {
        self.model = model;
        self
    }

    /// `tolerate (t)`.
    pub fn tolerate(mut self, t: i64) -> Props {
        self.tolerate = t;
        self
    }

    /// `replicas (r)`.
    pub fn replicas(mut self, r: i64) -> Props {
        self.replicas = r;
        self
    }

    /// `hosts (h, …)`.
    pub fn hosts(mut self, hosts: Vec<crate::lang::Host>) -> Props {
        self.hosts = hosts;
        self
    }

    /// `disjoint`.
    pub fn disjoint(mut self) -> Props {
        self.disjoint = true;
        self
    }

    /// `priority (p)`.
    pub fn priority(mut self, p: i64) -> Props {
        self.priority = p;
        self
    }

    /// `durable ("name")`.
    pub fn durable(mut self, name: impl Into<String>) -> Props {
        self.durable = Some(name.into());
        self
    }

    /// The runtime's specification of one server of class `class`.
    pub fn spec(&self, class: &str, disjoint_key: Option<u64>) -> Res<ServerSpec> {
        let tolerate = u32::try_from(self.tolerate).map_err(|_| {
            Failure::program_error(format!("tolerate ({}): must be >= 0", self.tolerate))
        })?;
        let replicas = u32::try_from(self.replicas)
            .ok()
            .filter(|r| *r > 0)
            .ok_or_else(|| {
                Failure::program_error(format!("replicas ({}): must be > 0", self.replicas))
            })?;
        if self.model == Model::Correct && tolerate > 0 {
            return Err(Failure::program_error(format!(
                "model correct cannot tolerate ({tolerate}) failures; use model crash"
            )));
        }
        Ok(ServerSpec {
            class: class.to_string(),
            model: self.model,
            tolerate,
            replicas,
            hosts: self.hosts.iter().map(|h| h.id()).collect(),
            disjoint_key,
            priority: self.priority,
            durable: self.durable.clone(),
        })
    }
}

/// One server class of a program, for the kernels' application factory:
/// `ServerClassDef::of::<Counter>()`.
#[derive(Clone, Copy)]
pub struct ServerClassDef {
    /// The CMSL class name.
    pub name: &'static str,
    /// Creates the replicated state machine of one replica.
    pub create: fn() -> Box<dyn crate::app::StateMachine>,
}

impl ServerClassDef {
    /// The definition of server class `C`.
    pub fn of<C: ServerClass>() -> ServerClassDef {
        ServerClassDef {
            name: C::NAME,
            create: super::executor::Executor::boxed::<C>,
        }
    }
}

impl fmt::Debug for ServerClassDef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServerClassDef({})", self.name)
    }
}
