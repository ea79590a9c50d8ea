use harmony_config_derive::Config;

#[derive(Config)]
struct Wrapper<T> {
    inner: T,
}

fn main() {}
