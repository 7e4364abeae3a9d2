// Start properties `ftc check` would refuse in CMSL are compile-time errors
// here too, each at its own tokens; the value is still a `Props`, so using it
// adds no error.
use ftc_runtime::program::Props;
use ftc_runtime::props;

fn main() {
    let _twice: Props = props!(model crash tolerate (1) tolerate (2));
    let _negative: Props = props!(model crash tolerate (-1));
    let _no_replicas: Props = props!(model crash replicas (0));
    let _correct: Props = props!(model correct tolerate (1));
    let _durable: Props = props!(model byzantine tolerate (1) durable ("ledger"));
    let _hosts: Props = props!(model crash tolerate (1) hosts (h1, "server2"));
    let _unknown: Props = props!(model crash colour (3));
}
