use sessionward::verify_session;

#[verify_session]
struct Handler;

fn main() {
    let _ = Handler;
}
