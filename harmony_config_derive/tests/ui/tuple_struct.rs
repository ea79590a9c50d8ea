use harmony_config_derive::Config;

#[derive(Config)]
struct Endpoint(String, u16);

fn main() {}
