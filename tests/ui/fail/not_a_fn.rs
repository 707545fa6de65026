use session_guard::verify_session;

#[verify_session]
struct Handler;

fn main() {
    let _ = Handler;
}
