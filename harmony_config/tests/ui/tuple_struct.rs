use harmony_config::Config;

#[derive(Config)]
struct Endpoint(String, u16);

fn main() {}
