-- SPDX-License-Identifier: MIT
-- man_page.lua - pandoc filter that turns a docs/reference page (GitHub
-- markdown) into a section 3 man page: pandoc -f gfm -t man -s
-- --lua-filter man_page.lua -M title=NAME [-M summary="what it is"].

-- The page's own "# name" heading is the man page's title (.TH, from the
-- title metadata): it goes, and "## NAME" and the rest become sections.
function Header(header)
  if header.level == 1 then
    return {}
  end
  header.level = header.level - 1
  return header
end

-- Links between reference pages become plain text: a man page names
-- another page, it does not point at a markdown file.
function Link(link)
  if link.target:match("%.md$") or link.target:match("%.md#") or link.target:match("/$") then
    return link.content
  end
end

-- Tables become tagged paragraphs, as man pages lay such lists out: tbl
-- columns at 80 characters wrap text blocks badly (groff warns that it
-- cannot adjust lines). The first cell is the tag; with more than two
-- columns, each other cell is labelled with its column's heading.
function Table(element)
  local simple = pandoc.utils.to_simple_table(element)
  local headings = {}
  for column, heading in ipairs(simple.headers) do
    headings[column] = pandoc.utils.blocks_to_inlines(heading)
  end
  local items = {}
  for _, row in ipairs(simple.rows) do
    local definition = {}
    for column = 2, #row do
      local text = pandoc.utils.blocks_to_inlines(row[column])
      if #row > 2 then
        local labelled = {pandoc.Emph(headings[column]), pandoc.Str(":"), pandoc.Space()}
        text = pandoc.Inlines(labelled) .. text
      end
      table.insert(definition, pandoc.Plain(text))
    end
    table.insert(items, {pandoc.utils.blocks_to_inlines(row[1]), {definition}})
  end
  return pandoc.DefinitionList(items)
end

-- The NAME section in the form whatis and apropos parse,
-- "name, name \- summary", in plain text. A page without one (the index)
-- gets it from the title and summary metadata.
local function plain_name(paragraph)
  return paragraph:walk({
    Code = function(code) return pandoc.Str(code.text) end,
    Str = function(str)
      if str.text == "—" then
        return pandoc.RawInline("man", "\\-")
      end
    end,
  })
end

function Pandoc(document)
  local blocks = document.blocks
  local in_name = false
  for index, block in ipairs(blocks) do
    if block.t == "Header" then
      in_name = pandoc.utils.stringify(block.content) == "NAME"
    elseif in_name and block.t == "Para" then
      blocks[index] = plain_name(block)
      in_name = false
    end
  end
  if document.meta.summary then
    local line = pandoc.utils.stringify(document.meta.title):lower() .. " \\- " ..
                 pandoc.utils.stringify(document.meta.summary)
    blocks:insert(1, pandoc.Header(1, "NAME"))
    blocks:insert(2, pandoc.Para({pandoc.RawInline("man", line)}))
  end
  return document
end
