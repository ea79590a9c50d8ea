use harmony_config::Config;

#[derive(Config)]
struct Db {
    #[config(hidden)]
    password: String,
}

fn main() {}
