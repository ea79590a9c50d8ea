use harmony_config_derive::Config;

#[derive(Config)]
struct Db {
    #[config(hidden)]
    password: String,
}

fn main() {}
