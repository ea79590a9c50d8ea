use harmony_config_derive::Config;

#[derive(Config)]
enum Mode {
    Dev,
    Prod,
}

fn main() {}
