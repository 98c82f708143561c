//! The speech models `/tts-stream` accepts: their names, native sample rates and the
//! locales each one speaks.
//!
//! Rates are the SDK README's (mars-pro and the 8.1 betas 48 kHz, mars-flash and
//! mars-instruct 22.05 kHz); `auto` has none documented, so it gets mars-flash's. CAMB's
//! docs give locale counts per model (33 for mars-flash and mars-pro, 158 for the 8.1
//! betas, 141 for mars-instruct) but no full lists: the lists here are the emulator's,
//! realistic in shape (lowercase BCP-47, `en-uk` as the SDK spells it), not CAMB's.

/// One speech model.
#[derive(Debug)]
pub struct Model {
    pub name: &'static str,
    /// The rate of its audio when the request names none.
    pub sample_rate: u32,
    /// Its locales, as parts to concatenate (in this order: the 422 lists them so).
    locales: &'static [&'static [&'static str]],
}

impl Model {
    pub fn speaks(&self, locale: &str) -> bool {
        self.locales().any(|l| l == locale)
    }

    pub fn locales(&self) -> impl Iterator<Item = &'static str> {
        self.locales.iter().flat_map(|part| part.iter().copied())
    }
}

/// The model used when a request names none. Sources disagree (the tutorial's table says
/// an `mars-8.1-f…` cut off mid-word, the direct-API page says `mars-flash`): the emulator
/// takes `mars-flash`.
pub const DEFAULT_MODEL: &str = "mars-flash";

/// Every model, in the order the 422 for an unknown one names them.
pub static MODELS: [Model; 6] = [
    Model {
        name: "mars-pro",
        sample_rate: 48_000,
        locales: &[CORE],
    },
    Model {
        name: "mars-flash",
        sample_rate: 22_050,
        locales: &[CORE],
    },
    Model {
        name: "mars-instruct",
        sample_rate: 22_050,
        locales: &[CORE, SDK_MORE, INSTRUCT_MORE],
    },
    Model {
        name: "mars-8.1-pro-beta",
        sample_rate: 48_000,
        locales: &[CORE, SDK_MORE, INSTRUCT_MORE, WIDEST_MORE],
    },
    Model {
        name: "mars-8.1-flash-beta",
        sample_rate: 48_000,
        locales: &[CORE, SDK_MORE, INSTRUCT_MORE, WIDEST_MORE],
    },
    Model {
        name: "auto",
        sample_rate: 22_050,
        locales: &[CORE, SDK_MORE, INSTRUCT_MORE, WIDEST_MORE],
    },
];

pub fn find(name: &str) -> Option<&'static Model> {
    MODELS.iter().find(|m| m.name == name)
}

/// The 33 locales of mars-flash and mars-pro (no `zh-tw`).
const CORE: &[&str] = &[
    "en-us", "en-uk", "en-au", "en-in", "fr-fr", "fr-ca", "de-de", "es-es", "es-mx", "es-us",
    "it-it", "pt-br", "pt-pt", "nl-nl", "pl-pl", "ru-ru", "uk-ua", "tr-tr", "ar-sa", "ar-ae",
    "ar-eg", "hi-in", "bn-in", "ta-in", "te-in", "ja-jp", "ko-kr", "zh-cn", "id-id", "vi-vn",
    "th-th", "el-gr", "cs-cz",
];

/// The rest of the SDK's 62 stream locales.
const SDK_MORE: &[&str] = &[
    "zh-tw", "zh-hk", "de-at", "de-ch", "fr-be", "fr-ch", "nl-be", "fi-fi", "ro-ro", "bn-bd",
    "ml-in", "kn-in", "mr-in", "pa-in", "as-in", "ar-kw", "ar-sy", "ar-ma", "ar-om", "ar-jo",
    "ar-ly", "ar-ye", "ar-bh", "ar-qa", "ar-tn", "ar-xa", "ar-lb", "ar-iq", "ar-dz",
];

/// More locales (from the SDK's language id table) that mars-instruct speaks too.
const INSTRUCT_MORE: &[&str] = &[
    "sv-se", "da-dk", "nb-no", "he-il", "hu-hu", "ms-my", "fil-ph", "sw-ke", "ur-pk", "fa-ir",
    "ca-es", "hr-hr", "sk-sk", "bg-bg", "sr-rs", "sl-si", "lt-lt", "lv-lv", "et-ee", "es-ar",
    "es-co", "es-cl", "en-ca", "en-nz", "en-ie", "en-za", "en-sg", "en-ph", "gu-in", "ur-in",
];

/// Locales only the 8.1 betas (and `auto`) speak.
const WIDEST_MORE: &[&str] = &[
    "ta-lk", "ne-np", "si-lk", "km-kh", "my-mm", "lo-la", "ka-ge", "hy-am", "az-az", "kk-kz",
    "uz-uz", "mn-mn", "af-za", "zu-za", "am-et", "so-so", "is-is", "ga-ie", "cy-gb", "mt-mt",
    "sq-al", "mk-mk", "bs-ba", "gl-es", "eu-es", "jv-id", "su-id",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_and_pro_speak_33_locales_without_zh_tw() {
        for name in ["mars-flash", "mars-pro"] {
            let model = find(name).unwrap();
            assert_eq!(model.locales().count(), 33, "{name}");
            assert!(model.speaks("en-us") && model.speaks("en-uk") && model.speaks("zh-cn"));
            assert!(!model.speaks("zh-tw") && !model.speaks("en-US"));
        }
    }

    #[test]
    fn wider_models_speak_more_and_lists_have_no_duplicates() {
        for model in &MODELS {
            let mut all: Vec<_> = model.locales().collect();
            let n = all.len();
            all.sort_unstable();
            all.dedup();
            assert_eq!(all.len(), n, "{}", model.name);
            assert!(all.iter().all(|l| *l == l.to_ascii_lowercase()));
        }
        let instruct = find("mars-instruct").unwrap();
        let beta = find("mars-8.1-flash-beta").unwrap();
        assert!(instruct.speaks("zh-tw") && beta.speaks("zh-tw"));
        // The counts emulator/README.md gives.
        assert_eq!(instruct.locales().count(), 92);
        assert_eq!(beta.locales().count(), 119);
        assert_eq!(find("auto").unwrap().locales().count(), 119);
        assert!(find("mars-7").is_none());
    }
}
