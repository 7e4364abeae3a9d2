const _: () = {
    #[allow(dead_code)]
    fn checks() {
        ::ftc_runtime::macro_support::snapshot::<Counter>();
        ::ftc_runtime::macro_support::initial::<Counter>();
        ::ftc_runtime::macro_support::wire::<i64>();
        ::ftc_runtime::macro_support::wire::<i64>();
        ::ftc_runtime::macro_support::wire::<i64>();
        ::ftc_runtime::macro_support::wire::<()>();
        ::ftc_runtime::macro_support::wire::<i64>();
        ::ftc_runtime::macro_support::wire::<Result<i64, String>>();
        ::ftc_runtime::macro_support::wire::<CounterClient>();
        ::ftc_runtime::macro_support::wire::<i64>();
    }
};
/// One variant per public method of `Counter`.
#[derive(::ftc_runtime::serde::Serialize, ::ftc_runtime::serde::Deserialize)]
#[serde(crate = "::ftc_runtime::serde")]
pub enum CounterCommand {
    /// `add`
    Add { by: i64 },
    /// `total`
    Total {},
    /// `reset`
    Reset {},
    /// `checked_div`
    CheckedDiv { by: i64 },
    /// `forward`
    Forward { to: CounterClient },
}
impl ::ftc_runtime::program::ServerClass for Counter {
    const NAME: &'static str = "Counter";
    type Command = CounterCommand;
    fn construct() -> ::ftc_runtime::lang::Res<Self> {
        ::std::result::Result::Ok(<Self as ::std::default::Default>::default())
    }
    fn dispatch(
        &mut self,
        command: CounterCommand,
    ) -> ::ftc_runtime::lang::Res<::ftc_runtime::lang::Encoded> {
        match command {
            CounterCommand::Add { by } => ::ftc_runtime::lang::encode(&self.add(by)),
            CounterCommand::Total {} => ::ftc_runtime::lang::encode(&self.total()),
            CounterCommand::Reset {} => ::ftc_runtime::lang::encode(&self.reset()),
            CounterCommand::CheckedDiv { by } => {
                ::ftc_runtime::lang::encode(&self.checked_div(by))
            }
            CounterCommand::Forward { to } => {
                ::ftc_runtime::lang::encode(&self.forward(to)?)
            }
        }
    }
}
impl ::ftc_runtime::program::TypedServer for Counter {
    type Client = CounterClient;
}
/// A handle on a replicated `Counter` server: one method per command, each an exactly-once call answered by the server's reply rule.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    ::ftc_runtime::serde::Serialize,
    ::ftc_runtime::serde::Deserialize
)]
#[serde(crate = "::ftc_runtime::serde")]
pub struct CounterClient {
    server: ::ftc_runtime::program::Server<Counter>,
}
impl ::std::convert::From<::ftc_runtime::program::Server<Counter>> for CounterClient {
    fn from(server: ::ftc_runtime::program::Server<Counter>) -> Self {
        CounterClient { server }
    }
}
impl ::std::convert::From<CounterClient> for ::ftc_runtime::program::Server<Counter> {
    fn from(client: CounterClient) -> Self {
        client.server
    }
}
impl CounterClient {
    /// Calls the command `add` and waits for its reply.
    pub fn add(&self, by: i64) -> ::ftc_runtime::lang::Res<i64> {
        self.server.call(CounterCommand::Add { by })
    }
    /// Sends the command `add`; its future holds the reply.
    pub fn invoke_add(
        &self,
        by: i64,
    ) -> ::ftc_runtime::lang::Res<::ftc_runtime::program::Future<i64>> {
        self.server.invoke(CounterCommand::Add { by })
    }
    /// Calls the query `total` and waits for its reply.
    pub fn total(&self) -> ::ftc_runtime::lang::Res<i64> {
        self.server.call(CounterCommand::Total {})
    }
    /// Sends the query `total`; its future holds the reply.
    pub fn invoke_total(
        &self,
    ) -> ::ftc_runtime::lang::Res<::ftc_runtime::program::Future<i64>> {
        self.server.invoke(CounterCommand::Total {})
    }
    /// Calls the command `reset` and waits for its reply.
    pub fn reset(&self) -> ::ftc_runtime::lang::Res<()> {
        self.server.call(CounterCommand::Reset {})
    }
    /// Sends the command `reset`; its future holds the reply.
    pub fn invoke_reset(
        &self,
    ) -> ::ftc_runtime::lang::Res<::ftc_runtime::program::Future<()>> {
        self.server.invoke(CounterCommand::Reset {})
    }
    /// Calls the query `checked_div` and waits for its reply.
    pub fn checked_div(&self, by: i64) -> ::ftc_runtime::lang::Res<Result<i64, String>> {
        self.server.call(CounterCommand::CheckedDiv { by })
    }
    /// Sends the query `checked_div`; its future holds the reply.
    pub fn invoke_checked_div(
        &self,
        by: i64,
    ) -> ::ftc_runtime::lang::Res<::ftc_runtime::program::Future<Result<i64, String>>> {
        self.server.invoke(CounterCommand::CheckedDiv { by })
    }
    /// Calls the command `forward` and waits for its reply.
    pub fn forward(&self, to: CounterClient) -> ::ftc_runtime::lang::Res<i64> {
        self.server.call(CounterCommand::Forward { to })
    }
    /// Sends the command `forward`; its future holds the reply.
    pub fn invoke_forward(
        &self,
        to: CounterClient,
    ) -> ::ftc_runtime::lang::Res<::ftc_runtime::program::Future<i64>> {
        self.server.invoke(CounterCommand::Forward { to })
    }
}
impl Counter {
    /// Starts a replicated server of this type with `props` (model,
    /// tolerance, replicas, hosts) and returns its client.
    pub fn start(
        props: &::ftc_runtime::program::Props,
    ) -> ::ftc_runtime::lang::Res<CounterClient> {
        ::ftc_runtime::program::Server::<Counter>::start(props).map(CounterClient::from)
    }
    /// What the kernels need to create replicas of this type.
    pub fn server_class() -> ::ftc_runtime::program::ServerClassDef {
        ::ftc_runtime::program::ServerClassDef::of::<Counter>()
    }
}
