use sessionward::verify_session;

#[verify_session]
async extern "C" fn callback() -> u32 {
    42
}

fn main() {}
