use sessionward::verify_session;

#[verify_session]
const fn answer() -> u32 {
    42
}

fn main() {
    let _ = answer();
}
