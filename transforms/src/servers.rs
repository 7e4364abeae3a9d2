//! Pass 3: commands, replies and dispatch of every server class.
//!
//! After it: every server class has a [`ServerIr`]: one command per public
//! method it answers, inherited ones first in their base's order (an
//! override in the place of the method it overrides, new methods after), so
//! the commands of a class begin with those of its base, in the same
//! positions: a handle of the base class sends commands every subclass
//! answers. Each has its argument names and types and its reply type.
//! Private methods have no command: they run only inside the server. Each
//! command is found from its class and method in constant time
//! (`ProgramIr::command`).

use crate::names::{camel, value_name};
use crate::{CommandIr, ProgramIr, ServerIr};
use ftc_frontend::CheckedProgram;
use ftc_grammar::Visibility;

pub(crate) fn commands(program: &CheckedProgram, ir: &mut ProgramIr) {
    for class in ir.classes.iter_mut() {
        let info = program.class(class.id);
        if !info.is_server {
            continue;
        }
        let mut commands = Vec::new();
        for &m in &class.methods {
            let f = program.function(m);
            if f.visibility != Visibility::Public {
                continue;
            }
            ir.commands_by_method.insert((class.id, m), commands.len());
            let mut variant = camel(&f.name);
            // `self` → `Self`, the one CamelCase keyword.
            while variant == "Self" || commands.iter().any(|c: &CommandIr| c.variant == variant) {
                variant.push('_');
            }
            commands.push(CommandIr {
                id: commands.len() as u32,
                method: m,
                variant,
                params: f
                    .params
                    .iter()
                    .map(|p| {
                        let v = program.var(*p);
                        (value_name(&v.name), v.ty.clone())
                    })
                    .collect(),
                result: f.ret.clone(),
            });
        }
        class.server = Some(ServerIr {
            command_enum: format!("{}Command", class.rust_name),
            commands,
        });
    }
    // A base-typed handle sends the base's commands to a subclass's server:
    // the subclass's commands begin with its base's, with the same types.
    for class in &ir.classes {
        let (Some(base), Some(server)) = (program.class(class.id).base, &class.server) else {
            continue;
        };
        let Some(base_server) = &ir.class(base).server else {
            continue;
        };
        let prefix = base_server.commands.len() <= server.commands.len()
            && base_server
                .commands
                .iter()
                .zip(&server.commands)
                .all(|(b, d)| {
                    program.function(b.method).name == program.function(d.method).name
                        && b.result == d.result
                        && b.params
                            .iter()
                            .map(|p| &p.1)
                            .eq(d.params.iter().map(|p| &p.1))
                });
        assert!(
            prefix,
            "internal error: the commands of `{}` do not begin with those of its base",
            class.cmsl_name
        );
    }
}
