au BufRead,BufNewFile *.cmsl setfiletype cmsl
