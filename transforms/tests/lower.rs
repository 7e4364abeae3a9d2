//! What the passes record: commands numbered in declaration order with their
//! argument and reply types, handle arrays, folded server specs, names.

use ftc_frontend::types::Ty;
use ftc_transforms::{lower, Operand};

const PROGRAM: &str = r#"
class item { public: attribute int qty; }
server class counter {
  public:
    int add (item it, int times);
    void reset () { sum = 0; }
  private:
    attribute int sum;
    int peek () { return sum; }
}
int counter::add (item it, int times) { sum += it->qty * times; return sum; }
void main () {
  int t = 1;
  counter c = server counter model crash tolerate (2 - 1) replicas (3);
  counter d = server counter model crash tolerate (t) durable ("d-" + t);
  counter arr = server counter [1 + 2] disjoint;
  arr[0]->reset();
  int type = 3;
}
"#;

#[test]
fn commands_specs_and_names() {
    let out = ftc_frontend::check_source(PROGRAM);
    let program = out.program.expect("checks");
    let ir = lower(&program).expect("lowers");
    let counter = ir
        .classes
        .iter()
        .find(|c| c.cmsl_name == "counter")
        .expect("counter");
    assert_eq!(counter.rust_name, "Counter");
    let server = counter.server.as_ref().expect("server IR");
    assert_eq!(server.command_enum, "CounterCommand");
    let cmds: Vec<(u32, &str)> = server
        .commands
        .iter()
        .map(|c| (c.id, c.variant.as_str()))
        .collect();
    assert_eq!(
        cmds,
        vec![(0, "Add"), (1, "Reset")],
        "a private method has no command"
    );
    assert_eq!(server.commands[0].params.len(), 2);
    assert_eq!(server.commands[0].result, Ty::Int);
    assert_eq!(server.commands[1].result, Ty::Void);

    let mut specs: Vec<_> = ir.specs.values().collect();
    specs.sort_by_key(|s| format!("{:?}", s.count));
    let constant = specs
        .iter()
        .find(|s| s.replicas == Operand::Const(3))
        .expect("constant spec");
    assert_eq!(constant.tolerate, Operand::Const(1), "2 - 1 is folded");
    let variable = specs
        .iter()
        .find(|s| matches!(s.tolerate, Operand::Expr(_)))
        .expect("a variable stays an expression");
    let name = variable.durable.expect("`durable` is recorded");
    assert_eq!(
        program.type_of(name),
        Some(&Ty::Str),
        "the name is a string"
    );
    assert!(
        specs.iter().filter(|s| s.durable.is_none()).count() == 2,
        "not durable without the property"
    );
    let array = specs
        .iter()
        .find(|s| s.count.is_some())
        .expect("array spec");
    assert_eq!(array.count, Some(Operand::Const(3)));
    assert!(array.disjoint);

    let arr = program
        .vars
        .iter()
        .position(|v| v.name == "arr")
        .expect("arr");
    assert!(ir
        .handle_arrays
        .contains(&ftc_frontend::types::VarId(arr as u32)));
    let ty = program
        .vars
        .iter()
        .position(|v| v.name == "type")
        .expect("type");
    assert_eq!(ir.var_names[ty], "type_", "Rust keywords are escaped");
}
