use harmony_config_derive::Config;

#[derive(Config)]
struct Db {
    #[config(secret)]
    #[serde(renam = "pw")]
    password: String,
}

fn main() {}
