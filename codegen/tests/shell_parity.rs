//! A CMSL server class and the equivalent annotated Rust type must give clients
//! the same server. Both front ends build a `ftc_shell::ServerShell` and emit
//! it with `ftc_shell::emit`: this compares the two shells (the replication
//! IR's commands against the Rust `impl` block's), the tokens each emits, and
//! the command enum, dispatch and client in the Rust `ftc` generates. What
//! differs on purpose is listed in `known_differences`.

use quote::ToTokens;

const CMSL: &str = r#"
server class account {
  public:
    int deposit (int amount);
    int balance ();
    void reset_all ();
    string rename (string owner, int times);
  private:
    attribute int money = 0;
    attribute string name = "";
    int helper () { return money; }
}

int account::deposit (int amount) { money += amount; return money; }
int account::balance () { return money; }
void account::reset_all () { money = 0; }
string account::rename (string owner, int times) { name = owner; return name; }

void main () {
  account a = server account model crash tolerate (1);
  println(a->deposit(3));
}
"#;

/// The same server written in Rust: CMSL methods may fail (`Res`), and every
/// CMSL method takes the state mutably.
fn rust_impl() -> syn::ItemImpl {
    syn::parse_quote! {
        impl Account {
            pub fn deposit(&mut self, amount: i64) -> Res<i64> { todo!() }
            pub fn balance(&mut self) -> Res<i64> { todo!() }
            pub fn reset_all(&mut self) -> Res<()> { todo!() }
            pub fn rename(&mut self, owner: String, times: i64) -> Res<String> { todo!() }
            fn helper(&mut self) -> Res<i64> { todo!() }
        }
    }
}

fn cmsl_program() -> (ftc_transforms::ProgramIr, syn::File, ftc_shell::ServerShell) {
    let out = ftc_frontend::check_source(CMSL);
    let program = out.program.expect("the CMSL program checks");
    let ir = ftc_transforms::lower(&program).expect("the CMSL program is supported");
    let options = ftc_codegen::Options {
        file_name: "account.cmsl".into(),
        package: ftc_codegen::package_name("account"),
        runtime_dir: "/ftc/runtime".into(),
    };
    let main_rs = ftc_codegen::generate(&program, &ir, CMSL, &options)
        .expect("generated")
        .main_rs;
    let file = syn::parse_file(&main_rs).expect("the generated Rust parses");
    let mut shells = ftc_codegen::server_shells(&program, &ir, CMSL);
    assert_eq!(shells.len(), 1, "one server class");
    (ir, file, shells.remove(0))
}

fn rust_shell() -> (ftc_shell::ServerShell, syn::File) {
    let shell = ftc_shell::from_impl::shell_of(&rust_impl()).expect("accepted");
    let file = syn::parse2(ftc_shell::emit(&shell)).expect("the shell parses");
    (shell, file)
}

/// `Variant { field: Type, … }` of every variant of the enum `name`, in order.
fn command_enum(file: &syn::File, name: &str) -> Vec<String> {
    let found = file.items.iter().find_map(|i| match i {
        syn::Item::Enum(e) if e.ident == name => Some(e),
        _ => None,
    });
    let e = found.unwrap_or_else(|| panic!("no enum {name}"));
    e.variants
        .iter()
        .map(|v| {
            let fields: Vec<String> = v
                .fields
                .iter()
                .map(|f| {
                    let ident = f.ident.as_ref().map(|i| i.to_string()).unwrap_or_default();
                    format!("{ident}: {}", f.ty.to_token_stream())
                })
                .collect();
            format!("{} {{ {} }}", v.ident, fields.join(", "))
        })
        .collect()
}

/// `pattern => call` of every dispatch arm, where `call` is what the arm
/// encodes (the path of `encode` itself is the emitter's business).
fn dispatch_arms(file: &syn::File, state: &str) -> Vec<String> {
    let imp = file
        .items
        .iter()
        .find_map(|i| match i {
            syn::Item::Impl(imp)
                if imp.trait_.as_ref().is_some_and(|(_, p, _)| {
                    p.segments.last().is_some_and(|s| s.ident == "ServerClass")
                }) && imp.self_ty.to_token_stream().to_string() == state =>
            {
                Some(imp)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no ServerClass impl for {state}"));
    let dispatch = imp
        .items
        .iter()
        .find_map(|i| match i {
            syn::ImplItem::Fn(f) if f.sig.ident == "dispatch" => Some(f),
            _ => None,
        })
        .expect("a dispatch method");
    let Some(syn::Stmt::Expr(syn::Expr::Match(m), _)) = dispatch.block.stmts.last() else {
        panic!("dispatch is one match");
    };
    m.arms
        .iter()
        .map(|arm| {
            // A long arm is a block (prettyplease): look inside.
            let body = match &*arm.body {
                syn::Expr::Block(b) if b.block.stmts.len() == 1 => match &b.block.stmts[0] {
                    syn::Stmt::Expr(e, None) => e,
                    _ => &*arm.body,
                },
                other => other,
            };
            let syn::Expr::Call(call) = body else {
                panic!("an arm encodes its call: {}", arm.body.to_token_stream());
            };
            assert!(
                call.func.to_token_stream().to_string().ends_with("encode"),
                "{}",
                call.func.to_token_stream()
            );
            let encoded: Vec<String> = call
                .args
                .iter()
                .map(|a| a.to_token_stream().to_string())
                .collect();
            format!("{} => {}", arm.pat.to_token_stream(), encoded.join(", "))
        })
        .collect()
}

#[test]
fn the_replication_ir_and_the_shell_list_the_same_commands() {
    let (ir, _, _) = cmsl_program();
    let (shell, _) = rust_shell();
    let class = ir
        .classes
        .iter()
        .find(|c| c.cmsl_name == "account")
        .expect("the account class");
    let server = class.server.as_ref().expect("a server class");
    assert_eq!(class.rust_name, shell.state.to_string());
    assert_eq!(
        server.command_enum,
        ftc_shell::command_enum(&shell.state).to_string()
    );
    let from_cmsl: Vec<(String, Vec<String>)> = server
        .commands
        .iter()
        .map(|c| {
            (
                c.variant.clone(),
                c.params.iter().map(|(n, _)| n.clone()).collect(),
            )
        })
        .collect();
    let from_rust: Vec<(String, Vec<String>)> = shell
        .commands
        .iter()
        .map(|c| {
            (
                c.variant.to_string(),
                c.params.iter().map(|p| p.name.to_string()).collect(),
            )
        })
        .collect();
    assert_eq!(from_cmsl, from_rust);
    assert!(
        shell
            .commands
            .iter()
            .all(|c| c.returns == ftc_shell::Returns::Res),
        "CMSL methods may fail, so the Rust twin returns Res"
    );
}

#[test]
fn the_emitted_command_enum_and_dispatch_are_the_same() {
    let (_, generated, _) = cmsl_program();
    let (_, emitted) = rust_shell();
    let cmsl_enum = command_enum(&generated, "AccountCommand");
    assert_eq!(
        cmsl_enum,
        vec![
            "Deposit { amount: i64 }",
            "Balance {  }",
            "ResetAll {  }",
            "Rename { owner: String, times: i64 }",
        ]
    );
    assert_eq!(cmsl_enum, command_enum(&emitted, "AccountCommand"));
    let cmsl_arms = dispatch_arms(&generated, "Account");
    assert_eq!(cmsl_arms.len(), 4, "{cmsl_arms:#?}");
    assert_eq!(
        cmsl_arms[3],
        "AccountCommand :: Rename { owner , times } => & self . rename (owner , times) ?"
    );
    assert_eq!(cmsl_arms, dispatch_arms(&emitted, "Account"));
}

/// `Variant { field: Type, … } -> reply (kind, returns)` of every command.
fn commands(shell: &ftc_shell::ServerShell) -> Vec<String> {
    shell
        .commands
        .iter()
        .map(|c| {
            let params: Vec<String> = c
                .params
                .iter()
                .map(|p| format!("{}: {}", p.name, p.ty.to_token_stream()))
                .collect();
            format!(
                "{} {} {{ {} }} -> {} ({:?}, {:?})",
                c.method,
                c.variant,
                params.join(", "),
                c.reply.to_token_stream(),
                c.kind,
                c.returns
            )
        })
        .collect()
}

#[test]
fn both_front_ends_build_the_same_shell_and_emit_the_same_tokens() {
    let (_, _, cmsl) = cmsl_program();
    let (rust, _) = rust_shell();
    assert_eq!(cmsl.state.to_string(), rust.state.to_string());
    assert_eq!(commands(&cmsl), commands(&rust));
    assert_eq!(
        commands(&cmsl)[3],
        "rename Rename { owner: String, times: i64 } -> String (Command, Res)"
    );
    // Emitted alike (the front end's own parts aside), token for token.
    let mut as_rust = cmsl.clone();
    as_rust.front_end = ftc_shell::FrontEnd::Rust;
    as_rust.class_name = rust.class_name.clone();
    assert_eq!(
        ftc_shell::emit(&as_rust).to_string(),
        ftc_shell::emit(&rust).to_string()
    );
}

#[test]
fn the_generated_program_holds_the_shell_as_emitted() {
    let (_, generated, cmsl) = cmsl_program();
    let emitted: syn::File = syn::parse2(ftc_shell::emit(&cmsl)).expect("the shell parses");
    // As printed and read back, like the generated file (doc comments).
    let emitted = syn::parse_file(&prettyplease::unparse(&emitted)).expect("printed shell");
    let items: Vec<String> = generated
        .items
        .iter()
        .map(|i| i.to_token_stream().to_string())
        .collect();
    for item in &emitted.items {
        let item = item.to_token_stream().to_string();
        assert!(
            items.contains(&item),
            "not in the generated program: {item}"
        );
    }
    // Calls go through the typed client.
    let main = generated.to_token_stream().to_string();
    assert!(main.contains("a . client () . deposit (3i64)"), "{main}");
}

/// What differs on purpose, stated so that a change to either side shows up
/// here: the class name the kernels know (CMSL's own name; the Rust type's
/// name), runtime items by prelude name in CMSL, CMSL's construction (its
/// initializers) and invariant, and what only the Rust shell has
/// (`Type::start`, the spanned bound checks).
#[test]
fn known_differences() {
    let (_, generated, _) = cmsl_program();
    let (shell, emitted) = rust_shell();
    let generated = generated.to_token_stream().to_string();
    let emitted = emitted.to_token_stream().to_string();
    assert!(generated.contains(r#"const NAME : & 'static str = "account""#));
    assert_eq!(shell.class_name, "Account");
    for both in [&generated, &emitted] {
        assert!(both.contains("pub struct AccountClient"));
        assert!(both.contains("TypedServer for Account"));
    }
    assert!(generated.contains("impl ServerClass for Account"));
    assert!(emitted.contains("impl :: ftc_runtime :: program :: ServerClass for Account"));
    assert!(generated.contains("state . init_state () ?"));
    assert!(generated.contains("fn invariant"));
    assert!(!emitted.contains("fn invariant"));
    assert!(emitted.contains("macro_support"));
    assert!(!generated.contains("macro_support"));
    assert!(emitted.contains("pub fn start"));
}
