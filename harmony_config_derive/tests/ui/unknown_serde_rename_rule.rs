use harmony_config_derive::Config;

#[derive(Config)]
#[serde(rename_all = "kebabcase")]
struct Db {
    #[config(secret)]
    db_password: String,
}

fn main() {}
