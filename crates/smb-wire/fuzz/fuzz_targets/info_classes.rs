//! Information-class buffers (QUERY_INFO outputs, SET_INFO inputs, QUERY_DIRECTORY listings) from
//! arbitrary bytes: the first byte picks the class. Directory chains are walked to their end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smb_wire::info::dir::*;
use smb_wire::info::file::*;
use smb_wire::info::fs::*;

fuzz_target!(|data: &[u8]| {
    let Some((&sel, buf)) = data.split_first() else { return };
    match sel % 16 {
        0 => drop(FileDirectoryInformation::entries(buf).count()),
        1 => drop(FileFullDirectoryInformation::entries(buf).count()),
        2 => drop(FileBothDirectoryInformation::entries(buf).count()),
        3 => drop(FileNamesInformation::entries(buf).count()),
        4 => drop(FileIdBothDirectoryInformation::entries(buf).count()),
        5 => drop(FileIdFullDirectoryInformation::entries(buf).count()),
        6 => drop(FileAllInformation::parse(buf)),
        7 => drop(FileStreamInformation::parse(buf).map(|s| s.iter().count())),
        8 => drop(FileRenameInformation::parse(buf).map(|r| r.file_name.to_string())),
        9 => drop(FileNameInformation::parse(buf)),
        10 => drop(FileBasicInformation::parse(buf)),
        11 => drop(FileNetworkOpenInformation::parse(buf)),
        12 => drop(FileFsVolumeInformation::parse(buf)),
        13 => drop(FileFsAttributeInformation::parse(buf)),
        14 => drop(FileFsFullSizeInformation::parse(buf)),
        _ => drop(FileFsSectorSizeInformation::parse(buf)),
    }
});
