use harmony_config::Config;

#[derive(Config)]
struct Wrapper<T> {
    inner: T,
}

fn main() {}
