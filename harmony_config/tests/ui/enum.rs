use harmony_config::Config;

#[derive(Config)]
enum Mode {
    Dev,
    Prod,
}

fn main() {}
